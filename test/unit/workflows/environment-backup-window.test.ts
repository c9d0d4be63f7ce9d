/**
 * backupEnvironment (time skipping, mocked activities): the members' backups are the real backupVm
 * workflow as children, started at once; each holds its VM's lease (granted here by signal, as
 * the VM owner does) before it begins. A member whose lease never comes has not begun when the
 * window closes: its run is withdrawn and the group point is incomplete, naming it, while the
 * other member's backup is kept. With every member begun and succeeded, the point is complete.
 */
import assert from 'node:assert/strict';
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { BackupPlan } from '../../../activities/backup-store';
import { BACKUP_ENVIRONMENT_WORKFLOW, type EnvironmentBackupInput, type EnvironmentBackupResult, type GroupMemberBackup } from '../../../src/contracts/environment-backup';
import { OWNER_SIGNALS, type LeaseRequest } from '../../../src/contracts/owner';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../../../src/temporal/search-attributes';
import { timeSkippingSuite, uniqueId, withWorkflowWorker } from '../../harness/time-skipping';

interface PointWrite {
  members: GroupMemberBackup[];
  status?: string;
  reason?: string;
  finished?: boolean;
}

/** Two members (db, web); `granted` says whose VM lease the owner grants. */
function groupWorld(client: Client, granted: Set<string>, windowSeconds = 300) {
  const db = uniqueId('vm-db');
  const web = uniqueId('vm-web');
  const begun = new Map<string, string>();
  const writes: PointWrite[] = [];
  const snapshots: string[] = [];
  const plan = (vmId: string): BackupPlan => ({
    ok: true,
    accountId: 'os-acct',
    serverId: `srv-${vmId}`,
    size: 'small',
    os: 'ubuntu-24.04',
    flavorName: 'm1.small',
    networkName: 'private',
    serviceOfferingName: 'Small Instance',
    backupAccountId: 'cs-acct',
    policy: { retention: 3, targets: { baseStandby: false, backupCloudStandby: false }, paused: false },
  });
  const activities: Record<string, (input: never) => Promise<unknown>> = {
    environmentBackupPlan: async () => ({ ok: true, windowSeconds, members: [{ name: 'db', vmId: db }, { name: 'web', vmId: web }] }),
    startEnvironmentBackupRecord: async () => undefined,
    updateEnvironmentBackupRecord: async (i: PointWrite) => void writes.push(structuredClone(i)),
    memberBackupsBegun: async (i: { workflowIds: string[] }) => i.workflowIds.filter((id) => begun.has(id)).map((id) => ({ workflowId: id, backupId: begun.get(id)! })),
    removeEnvironmentBackupSchedule: async () => ({ existed: false }),
    // The owner grants the lease by signal to the asking workflow; a VM not in `granted` stays held by someone else.
    requestVmLease: async (i: { vmId: string; request: LeaseRequest }) => {
      if (granted.has(i.vmId)) await client.workflow.getHandle(i.request.holderWorkflowId).signal(OWNER_SIGNALS.granted, { leaseId: i.request.leaseId });
    },
    backupPlan: async (i: { vmId: string }) => plan(i.vmId),
    startBackupRecord: async (i: { backupId: string }) => void begun.set(Context.current().info.workflowExecution!.workflowId, i.backupId),
    osSnapshotServer: async (i: { serverId: string }) => {
      snapshots.push(i.serverId);
      return { imageId: `img-${i.serverId}` };
    },
    osAwaitImage: async () => ({ size: 1024, checksum: 'md5' }),
    updateBackupRecord: async () => undefined,
    retentionCandidates: async () => [],
    sweepVmLeftovers: async () => ({ deleted: 0 }),
  };
  return { db, web, begun, writes, snapshots, activities };
}

/** The window of the withdrawal test, in real time. */
const WINDOW_SECONDS = 4;

describe('backupEnvironment (time skipping): one group point within a bounded window', function () {
  const env = timeSkippingSuite(this);
  before(async () => {
    // The members' backups carry vmflow's search attributes (owner, VM, cloud), as in production.
    const TYPE = temporal.api.enums.v1.IndexedValueType;
    await env.connection.operatorService.addSearchAttributes({ namespace: 'default', searchAttributes: Object.fromEntries(Object.keys(SEARCH_ATTRIBUTES).map((n) => [n, TYPE.INDEXED_VALUE_TYPE_KEYWORD])) });
  });

  /**
   * Runs the group backup in real time: time skipping stays locked (the test environment's default
   * until a result is awaited) and the run is watched with `describe`, which does not unlock it.
   * Skipped time fires the timeouts of activities a loaded worker has not finished yet: in CI the
   * members' mocked activities then timed out again and again and the run never settled. The
   * window is a few seconds here, so real time is short enough.
   */
  async function run(taskQueue: string): Promise<{ result: EnvironmentBackupResult; tookMs: number }> {
    const t0 = Date.now();
    const input: EnvironmentBackupInput = { envId: uniqueId('env'), ownerId: 'owner-1', trigger: 'manual' };
    const handle = await env.client.workflow.start(BACKUP_ENVIRONMENT_WORKFLOW, { taskQueue, workflowId: uniqueId('env-backup'), args: [input] });
    while ((await handle.describe()).status.name === 'RUNNING') {
      if (Date.now() - t0 > 90_000) throw new Error('the group backup did not end within 90 s of real time');
      await new Promise((r) => setTimeout(r, 100));
    }
    const result = (await handle.result()) as EnvironmentBackupResult;
    return { result, tookMs: Date.now() - t0 };
  }

  it('when every member begins and succeeds, then the group point is complete with one backup per member', async () => {
    const granted = new Set<string>();
    const world = groupWorld(env.client, granted);
    granted.add(world.db).add(world.web);
    await withWorkflowWorker(env, world.activities, async (taskQueue) => {
      const { result } = await run(taskQueue);
      assert.equal(result.status, 'complete', JSON.stringify(result));
      assert.equal(result.reason, undefined);
      assert.deepEqual(result.members.map((m) => [m.name, m.status]), [['db', 'succeeded'], ['web', 'succeeded']]);
      for (const m of result.members) assert.equal(m.backupId, world.begun.get(m.workflowId), `${m.name}: the backup its run recorded`);
      assert.equal(world.snapshots.length, 2, 'one snapshot per member');
      const last = world.writes.at(-1)!;
      assert.equal(last.status, 'complete');
      assert.equal(last.finished, true);
    });
  });

  it('when one member’s backup cannot begin within the window, then it is withdrawn, the point is incomplete naming it, and the other member’s backup is kept', async () => {
    const granted = new Set<string>();
    const world = groupWorld(env.client, granted, WINDOW_SECONDS);
    granted.add(world.db); // web's VM lease is never granted (another operation holds it)
    await withWorkflowWorker(env, world.activities, async (taskQueue) => {
      const { result, tookMs } = await run(taskQueue);
      assert.equal(result.status, 'incomplete', JSON.stringify(result));
      const db = result.members.find((m) => m.name === 'db')!;
      const web = result.members.find((m) => m.name === 'web')!;
      assert.equal(db.status, 'succeeded');
      assert.ok(db.backupId, 'the db backup is kept and named');
      assert.equal(web.status, 'not-started');
      assert.equal(web.backupId, undefined);
      assert.match(web.reason ?? '', new RegExp(`not begun within ${WINDOW_SECONDS} s`));
      assert.match(result.reason ?? '', /^web: not-started/);
      assert.deepEqual(world.snapshots, [`srv-${world.db}`], 'web was never snapshotted');
      assert.ok(tookMs >= WINDOW_SECONDS * 1000, `the window ran its course (${tookMs} ms)`);
      assert.equal(world.writes.at(-1)?.status, 'incomplete');
    });
  });
});
