/**
 * The update plan says, before anything is done, what a change of requirements does to a running
 * VM: in place, or by replacing the server (OpenStack user data), and what CloudStack will not do.
 */
import assert from 'node:assert/strict';
import { planUpdate } from '../../src/vms/update-plan';
import type { VmRequirements } from '../../src/templates/requirements';

const base: VmRequirements = { name: 'web1', os: 'ubuntu-24.04', software: ['vim'], size: 'small' } as VmRequirements;

describe('update plan', () => {
  it('when only the size changes, then it is a resize in place on either cloud and nothing is replaced', () => {
    for (const cloud of ['openstack', 'cloudstack'] as const) {
      const plan = planUpdate(cloud, base, { ...base, size: 'medium' }, { hasBackupPolicy: false });
      assert.deepEqual(plan.inPlace.map((c) => c.field), ['size']);
      assert.deepEqual(plan.replaced, []);
      assert.deepEqual(plan.notes, []);
    }
  });

  it('when software changes on OpenStack, then the server is replaced, and the note says whether a backup is taken first', () => {
    const withPolicy = planUpdate('openstack', base, { ...base, software: ['vim', 'ftp'] }, { hasBackupPolicy: true });
    assert.deepEqual(withPolicy.replaced.map((c) => c.field), ['software']);
    assert.match(withPolicy.replaced[0].effect, /replaces the server/);
    assert.match(withPolicy.notes.join(' '), /backup is taken first/);
    const without = planUpdate('openstack', base, { ...base, software: ['vim', 'ftp'] }, { hasBackupPolicy: false });
    assert.match(without.notes.join(' '), /no backup policy/);
  });

  it('when users or keys change on CloudStack, then nothing is replaced and the plan says the running VM does not apply them', () => {
    const plan = planUpdate('cloudstack', base, { ...base, runcmd: ['echo hi'] } as VmRequirements, { hasBackupPolicy: true });
    assert.deepEqual(plan.replaced, []);
    assert.deepEqual(plan.inPlace.map((c) => c.field), ['runcmd']);
    assert.match(plan.inPlace[0].effect, /does not apply it/);
    assert.match(plan.notes.join(' '), /keeps the new user data/);
  });

  it('when nothing that matters changes, then the plan is empty', () => {
    const plan = planUpdate('openstack', base, { ...base, software: ['vim'] }, { hasBackupPolicy: true });
    assert.deepEqual(plan, { inPlace: [], replaced: [], notes: [] });
  });
});
