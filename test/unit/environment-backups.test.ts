/**
 * Group protection without servers: a group point's outcome from its members' (complete only when
 * every member's backup succeeded; the reason names each member that fell short), and a group
 * policy checked as a VM's policy plus its window, with every problem named by its field (with
 * the `backup.` prefix inside an environment create).
 */
import assert from 'node:assert/strict';
import { BackupService } from '../../src/backups/service';
import { createEnvironmentRequestSchema } from '../../src/contracts/api/environments';
import { GROUP_BACKUP_WINDOW_SECONDS, environmentBackupScheduleId, groupMemberBackupWorkflowId, summarizeGroupBackup, type GroupMemberBackup } from '../../src/contracts/environment-backup';
import { EnvironmentBackupService } from '../../src/environments/backup-service';
import { AppError } from '../../src/errors';

const member = (name: string, status: GroupMemberBackup['status'], reason?: string): GroupMemberBackup => ({ name, vmId: `vm-${name}`, workflowId: `vm-backup:vm-${name}:group-k`, status, ...(reason ? { reason } : {}) });

function backupService(running = 0): BackupService {
  // Only the in-flight count is asked of Temporal here (no image-store quota: no database read).
  const temporal = { workflow: { count: async () => ({ count: running }) } };
  return new BackupService({
    db: undefined as never,
    temporal: temporal as never,
    taskQueue: 'q',
    vms: undefined as never,
    minIntervalSeconds: 60,
    defaultBackupAccountId: 'operator-cloudstack',
    findAccount: async () => undefined,
    quotas: { backupsInFlight: 5, backupRetention: 10 },
  });
}

function service(): EnvironmentBackupService {
  return new EnvironmentBackupService({ db: undefined as never, temporal: undefined as never, taskQueue: 'q', backups: backupService(), findAccount: async () => undefined });
}

function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof AppError, String(err));
    assert.equal(err.status, 400);
    return (err.fields ?? []).map((f) => f.field);
  }
  assert.fail('expected a 400');
}

describe('environments: group protection', () => {
  it('when every member’s backup succeeded, then the group point is complete', () => {
    assert.deepEqual(summarizeGroupBackup([member('db', 'succeeded'), member('app', 'succeeded')]), { status: 'complete' });
  });

  it('when a member failed, another had not begun and another made only part of its standbys, then the point is incomplete naming each with its reason', () => {
    const s = summarizeGroupBackup([member('db', 'failed', 'snapshot: 400'), member('app', 'succeeded'), member('web', 'not-started', 'not begun within 300 s'), member('cache', 'partial', 'export: 503')]);
    assert.equal(s.status, 'incomplete');
    assert.equal(s.reason, 'db: failed (snapshot: 400); web: not-started (not begun within 300 s); cache: partial (export: 503)');
  });

  it('when the environment has no members, then the point is incomplete', () => {
    assert.equal(summarizeGroupBackup([]).status, 'incomplete');
  });

  it('when ids are made, then the schedule and each member’s run are named after their environment and VM', () => {
    assert.equal(environmentBackupScheduleId('e1'), 'env-backup:e1');
    // A member's run is a VM backup: VM backup tooling (lists, quotas) finds it by its prefix.
    assert.match(groupMemberBackupWorkflowId('vm1', 'k1'), /^vm-backup:vm1:/);
  });

  it('when a good policy is given, then it is the VM policy with its defaults, the operator’s backup account and the default window', () => {
    const p = service().parse({ intervalSeconds: 3600 });
    assert.deepEqual(p, { intervalSeconds: 3600, cron: undefined, retention: 3, targets: { baseStandby: true, backupCloudStandby: true }, paused: false, backupAccountId: 'operator-cloudstack', windowSeconds: GROUP_BACKUP_WINDOW_SECONDS });
    assert.equal(service().parse({ cron: '0 3 * * *', windowSeconds: 60 }).windowSeconds, 60);
  });

  it('when a policy is bad, then 400 names every bad field, prefixed inside a create', () => {
    const s = service();
    assert.deepEqual(fieldsOf(() => s.parse({ intervalSeconds: 10 })), ['intervalSeconds']);
    assert.deepEqual(fieldsOf(() => s.parse({ intervalSeconds: 3600, windowSeconds: 5 })), ['windowSeconds']);
    assert.deepEqual(fieldsOf(() => s.parse({ intervalSeconds: 3600, windowSeconds: 'soon' })), ['windowSeconds']);
    assert.deepEqual(fieldsOf(() => s.parse({ cron: 'a b c d e', windowSeconds: 4000 })).sort(), ['cron', 'windowSeconds']);
    assert.deepEqual(fieldsOf(() => s.parse({ intervalSeconds: 3600, retention: 11 })), ['retention'], 'the retention quota applies');
    assert.deepEqual(fieldsOf(() => s.parse({ retention: 2 }, 'backup.')), ['backup.intervalSeconds']);
    assert.deepEqual(fieldsOf(() => s.parse({ intervalSeconds: 3600, windowSeconds: 0 }, 'backup.')), ['backup.windowSeconds']);
    assert.deepEqual(fieldsOf(() => s.parse('daily', 'backup.')), ['backup']);
  });

  it('when a group run would take the member past its backups in flight, then it is refused with quota_exceeded; one that fits is not', async () => {
    // 5 at once: 3 running, a group of 3 members would make 6; a group of 2 makes 5.
    await assert.rejects(backupService(3).assertBackupQuotas('alice', 3), (err: unknown) => {
      assert.ok(err instanceof AppError);
      assert.equal(err.status, 409);
      assert.equal(err.code, 'quota_exceeded');
      assert.match(err.message, /3 of your backups are running and this asks for 3 more.*quota backupsInFlight: 5/);
      return true;
    });
    await backupService(3).assertBackupQuotas('alice', 2);
    // A single backup by hand: refused only when the quota is full.
    await backupService(4).assertBackupQuotas('alice');
    await assert.rejects(backupService(5).assertBackupQuotas('alice'), /5 of your backups are running; wait for one to finish/);
  });

  it('when an environment create carries a backup policy, then the request schema keeps it for the service to check', () => {
    const req = createEnvironmentRequestSchema.parse({ name: 'shop', cloud: 'openstack', preset: 'web-app-db', backup: { intervalSeconds: 3600 } });
    assert.deepEqual(req.backup, { intervalSeconds: 3600 });
    assert.equal(createEnvironmentRequestSchema.safeParse({ name: 'shop', cloud: 'openstack', preset: 'web-app-db', backup: 'daily' }).success, false);
  });
});
