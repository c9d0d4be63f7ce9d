/**
 * backupEnvironment (issue 15, item 3: group protection), started by the environment's Temporal
 * Schedule (`env-backup:<envId>`) or by hand. One group restore point:
 *
 *   plan ─▶ every member's backupVm as a child, all at once ─▶ window: each must begin in time ─▶ point
 *
 * Each member is backed up by the ordinary backupVm workflow — its lease from the VM's owner, its
 * snapshot, its standbys in both clouds, its retention, its record — exactly as a single VM's
 * backup; nothing here touches a cloud. A member's backup has begun once it holds its VM's lease
 * and has recorded its backup (its record exists). One that has not begun within the window is
 * withdrawn (its child cancelled, which gives the lease request back), so the members' snapshots
 * are never further apart than the window; the point is then incomplete, naming it. The point is
 * `complete` only when every member's backup succeeded; the backups that did succeed are kept as
 * they are either way.
 */
import { CancellationScope, ParentClosePolicy, WorkflowIdReusePolicy, condition, executeChild, isCancellation, log, uuid4, workflowInfo } from '@temporalio/workflow';
import { TypedSearchAttributes } from '@temporalio/common';
import { BACKUP_WORKFLOW, type BackupInput, type BackupResult } from '../src/contracts/backup';
import {
  groupMemberBackupWorkflowId,
  summarizeGroupBackup,
  type EnvironmentBackupInput,
  type EnvironmentBackupResult,
  type GroupMemberBackup,
} from '../src/contracts/environment-backup';
import { VMFLOW_CLOUD_KEY, VMFLOW_OWNER_KEY, VMFLOW_VM_KEY } from '../src/vms/search';
import { store } from './lib/activity-presets';
import { Progress } from './lib/progress';
import { describeError } from './lib/task-graph';

/**
 * How often the run looks whether the members' backups have begun, while some have not: every
 * 2 s at first (members usually begin at once), then less often, at most every 15 s — a
 * five-minute window costs some 25 looks, not 150.
 */
const BEGUN_CHECK_FIRST_MS = 2000;
const BEGUN_CHECK_MAX_MS = 15_000;

export async function backupEnvironment(input: EnvironmentBackupInput): Promise<EnvironmentBackupResult> {
  const progress = new Progress('backupEnvironment', ['plan', 'members', 'record']);
  progress.start('plan');
  const plan = await store.environmentBackupPlan({ envId: input.envId, trigger: input.trigger });
  if (!plan.ok) {
    // A schedule whose environment is gone (or has no policy left) removes itself: nothing left behind.
    if (plan.removeSchedule && input.trigger === 'schedule') await store.removeEnvironmentBackupSchedule({ envId: input.envId });
    progress.complete();
    return { pointId: '', status: 'skipped', reason: plan.reason, members: [] };
  }
  const windowSeconds = input.windowSeconds ?? plan.windowSeconds;
  const groupKey = uuid4();
  const members: GroupMemberBackup[] = plan.members.map((m) => ({ name: m.name, vmId: m.vmId, workflowId: groupMemberBackupWorkflowId(m.vmId, groupKey), status: 'pending' }));
  // The point's id is the run's workflow id (a scheduled run's carries its time).
  const pointId = workflowInfo().workflowId;
  await store.startEnvironmentBackupRecord({ pointId, envId: input.envId, ownerId: input.ownerId, trigger: input.trigger, windowSeconds, members });

  try {
    progress.start('members', `${members.length} members, ${windowSeconds} s to begin`);
    await backUpMembers(input, members, windowSeconds);
    const summary = summarizeGroupBackup(members);
    progress.start('record');
    await store.updateEnvironmentBackupRecord({ pointId, members, status: summary.status, ...(summary.reason ? { reason: summary.reason } : {}), finished: true });
    if (summary.reason) progress.error(summary.reason);
    progress.complete();
    return { pointId, status: summary.status, ...(summary.reason ? { reason: summary.reason } : {}), members };
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => store.updateEnvironmentBackupRecord({ pointId, members, status: 'incomplete', reason: 'the group run was cancelled', finished: true }));
      progress.fail(err);
    }
    throw err;
  }
}

/** Starts every member's backup at once and waits for all; fills in each member's outcome. */
async function backUpMembers(input: EnvironmentBackupInput, members: GroupMemberBackup[], windowSeconds: number): Promise<void> {
  const settled = new Set<number>();
  const begun = new Set<number>();
  const withdrawn = new Set<number>();
  const scopes = members.map(() => new CancellationScope());
  const runs = members.map(async (m, i) => {
    const child: BackupInput = { vmId: m.vmId, ownerId: input.ownerId, trigger: input.trigger };
    try {
      const r: BackupResult = await scopes[i].run(() =>
        executeChild<(i: BackupInput) => Promise<BackupResult>>(BACKUP_WORKFLOW, {
          workflowId: m.workflowId,
          args: [child],
          workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
          typedSearchAttributes: new TypedSearchAttributes([
            { key: VMFLOW_OWNER_KEY, value: input.ownerId },
            { key: VMFLOW_VM_KEY, value: m.vmId },
            { key: VMFLOW_CLOUD_KEY, value: 'openstack' },
          ]),
          memo: { ownerId: input.ownerId, vmId: m.vmId },
          parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
        }),
      );
      if (r.status !== 'skipped') m.backupId = r.backupId;
      m.status = r.status;
      if (r.reason) m.reason = r.reason;
    } catch (err) {
      if (withdrawn.has(i)) {
        m.status = 'not-started';
        m.reason = `its backup had not begun within ${windowSeconds} s (waiting for the VM: another operation held it)`;
      } else {
        m.status = isCancellation(err) ? 'cancelled' : 'failed';
        m.reason = describeError(err);
      }
    } finally {
      settled.add(i);
    }
  });

  // The window: every member's backup must begin (or end) in time; one that has not is withdrawn.
  const deadline = Date.now() + windowSeconds * 1000;
  const waiting = () => members.map((_, i) => i).filter((i) => !settled.has(i) && !begun.has(i));
  let every = BEGUN_CHECK_FIRST_MS;
  while (waiting().length) {
    const left = deadline - Date.now();
    if (left <= 0) break;
    const before = waiting().length;
    await condition(() => waiting().length < before, Math.min(every, left));
    every = Math.min(Math.round(every * 1.5), BEGUN_CHECK_MAX_MS);
    const open = waiting();
    if (!open.length) break;
    const found = await store.memberBackupsBegun({ workflowIds: open.map((i) => members[i].workflowId) });
    for (const f of found) {
      const i = members.findIndex((m) => m.workflowId === f.workflowId);
      // A member whose run ended meanwhile keeps its outcome.
      if (i >= 0 && !settled.has(i)) {
        begun.add(i);
        members[i].backupId = f.backupId;
        members[i].status = 'running';
      }
    }
  }
  for (const i of waiting()) {
    log.warn('a member backup did not begin within the window; withdrawn', { vmId: members[i].vmId, windowSeconds });
    withdrawn.add(i);
    scopes[i].cancel();
  }
  await Promise.all(runs);
}
