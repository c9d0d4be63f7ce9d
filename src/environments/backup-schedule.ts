/**
 * One Temporal Schedule per environment with a group backup policy (`env-backup:<envId>`): it
 * starts backupEnvironment, which backs every member up as one group restore point. The same
 * spec and policies as a VM's schedule (src/backups/schedule.ts: overlap skip, one-minute
 * catch-up window, jitter of up to 10 % of the period).
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { BackupPolicy } from '../contracts/backup';
import { BACKUP_ENVIRONMENT_WORKFLOW, environmentBackupScheduleId, type EnvironmentBackupInput } from '../contracts/environment-backup';
import { ScheduleSpecRefusedError, scheduleSpec } from '../backups/schedule';
import { VMFLOW_CLOUD_KEY, VMFLOW_OWNER_KEY } from '../vms/search';

export interface EnvironmentScheduleTarget {
  envId: string;
  ownerId: string;
  taskQueue: string;
}

function action(t: EnvironmentScheduleTarget) {
  const input: EnvironmentBackupInput = { envId: t.envId, ownerId: t.ownerId, trigger: 'schedule' };
  return {
    type: 'startWorkflow' as const,
    workflowType: BACKUP_ENVIRONMENT_WORKFLOW,
    workflowId: environmentBackupScheduleId(t.envId),
    taskQueue: t.taskQueue,
    args: [input],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: VMFLOW_OWNER_KEY, value: t.ownerId },
      { key: VMFLOW_CLOUD_KEY, value: 'openstack' },
    ]),
    memo: { ownerId: t.ownerId, envId: t.envId },
  };
}

/** Creates the schedule or brings it in line with the policy; ScheduleSpecRefusedError when Temporal refuses the period. */
export async function upsertEnvironmentBackupSchedule(client: Client, t: EnvironmentScheduleTarget, policy: BackupPolicy): Promise<void> {
  const scheduleId = environmentBackupScheduleId(t.envId);
  try {
    try {
      await client.schedule.create({
        scheduleId,
        spec: scheduleSpec(policy),
        action: action(t),
        policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute', pauseOnFailure: false },
        state: { paused: policy.paused, note: policy.paused ? 'paused by the owner' : undefined },
        memo: { ownerId: t.ownerId, envId: t.envId },
      });
      return;
    } catch (err) {
      if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    }
    const handle = client.schedule.getHandle(scheduleId);
    await handle.update((prev) => ({ ...prev, spec: scheduleSpec(policy), action: action(t), policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 60_000 } }));
    const desc = await handle.describe();
    if (policy.paused && !desc.state.paused) await handle.pause('paused by the owner');
    if (!policy.paused && desc.state.paused) await handle.unpause('resumed by the owner');
  } catch (err) {
    // The client reports INVALID_ARGUMENT "Invalid schedule spec" as a TypeError.
    if (err instanceof TypeError) throw new ScheduleSpecRefusedError(err.message, { cause: err });
    throw err;
  }
}

/** Idempotent: a schedule that does not exist is fine. */
export async function deleteEnvironmentBackupSchedule(client: Client, envId: string): Promise<boolean> {
  try {
    await client.schedule.getHandle(environmentBackupScheduleId(envId)).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

export async function describeEnvironmentBackupSchedule(client: Client, envId: string) {
  try {
    const d = await client.schedule.getHandle(environmentBackupScheduleId(envId)).describe();
    return {
      scheduleId: d.scheduleId,
      paused: d.state.paused,
      nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
      recentRuns: d.info.recentActions.slice(-5).map((a) => ({ scheduledAt: a.scheduledAt.toISOString(), workflowId: a.action.workflow.workflowId })),
      runs: d.info.numActionsTaken,
      skippedOverlaps: d.info.numActionsSkippedOverlap,
    };
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}
