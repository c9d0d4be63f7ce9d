/**
 * What a change of requirements does to a running VM, said before it is done (pure; no I/O).
 *
 * OpenStack: the VM is a Heat stack. A new size is a flavor change, which Heat applies in place
 * (Nova resize: the server and its disk stay). Anything rendered into cloud-init user data
 * (software, users, SSH keys, commands, package updates) makes Heat *replace* `OS::Nova::Server`:
 * a new server from the stack's image — whatever was written to the old disk since is gone.
 * CloudStack: a new size is changeServiceForVirtualMachine (stop, change, start: same disk);
 * new user data is stored with the instance, but cloud-init applies packages, users and commands
 * once per instance, so a running VM does not get them (a new instance would).
 */
import type { PlannedChange, UpdatePlan } from '../contracts/api/common';
import type { CloudKind } from '../contracts/vm';
import type { VmRequirements } from '../templates/requirements';

/** What a change does, in the API contract's terms (src/contracts/api/common.ts). */
export type { PlannedChange, UpdatePlan };

const USER_DATA_FIELDS = ['software', 'sshPublicKeys', 'users', 'runcmd', 'packagesUpdate'] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export function planUpdate(cloud: CloudKind, current: VmRequirements, next: VmRequirements, opts: { hasBackupPolicy: boolean }): UpdatePlan {
  const plan: UpdatePlan = { inPlace: [], replaced: [], notes: [] };
  if (!same(current.size, next.size)) {
    plan.inPlace.push({
      field: 'size',
      effect: cloud === 'openstack' ? `resized from ${current.size} to ${next.size} (Nova resize; the server and its disk stay)` : `service offering changed from ${current.size} to ${next.size} (the instance is stopped, changed and started; its disk stays)`,
    });
  }
  for (const field of USER_DATA_FIELDS) {
    if (same(current[field], next[field])) continue;
    if (cloud === 'openstack') {
      plan.replaced.push({ field, effect: 'new cloud-init user data: Heat replaces the server with a new one from the stack image; data written to the old disk is lost' });
    } else {
      plan.inPlace.push({ field, effect: 'stored as the instance user data; the running VM does not apply it (cloud-init runs packages, users and commands once per instance)' });
    }
  }
  if (cloud === 'cloudstack' && plan.inPlace.some((c) => c.field !== 'size')) {
    plan.notes.push('CloudStack keeps the new user data with the instance; install the software or add the users on the running VM yourself, or re-create the VM to have them applied.');
  }
  if (plan.replaced.length) {
    plan.notes.push(
      opts.hasBackupPolicy
        ? 'a backup is taken first, so the old server can be restored (POST …/restore) if something is missing'
        : 'the VM has no backup policy: nothing of the old disk is kept; back it up first (POST …/backups) if it holds data',
    );
  }
  return plan;
}
