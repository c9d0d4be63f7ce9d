/**
 * One Temporal Schedule per VM (ID `vm-backup:<vmId>`) runs backupVm. Overlap SKIP (a long backup
 * is never doubled), a one-minute catch-up window (a worker or server that was down does not set
 * off a storm of missed runs), and jitter of up to 10 % of the period (at most 5 minutes) so that
 * thousands of VMs with the same period do not fire at the same instant.
 */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptionsAction, type ScheduleSpec } from '@temporalio/client';
import { BACKUP_WORKFLOW, backupScheduleId, type BackupInput, type BackupPolicy } from '../contracts/backup';
import { vmSearchAttributes } from '../vms/search';

export interface BackupScheduleTarget {
  vmId: string;
  ownerId: string;
  taskQueue: string;
}

export function scheduleSpec(policy: Pick<BackupPolicy, 'intervalSeconds' | 'cron'>): ScheduleSpec {
  if (policy.cron) return { cronExpressions: [policy.cron], jitter: 60_000 };
  const every = Math.max(1, policy.intervalSeconds ?? 3600);
  const jitterMs = Math.min(every * 100, 300_000); // 10 % of the period, in ms, capped at 5 min
  return { intervals: [{ every: every * 1000 }], ...(jitterMs >= 1 ? { jitter: jitterMs } : {}) };
}

function action(t: BackupScheduleTarget): ScheduleOptionsAction {
  const input: BackupInput = { vmId: t.vmId, ownerId: t.ownerId, trigger: 'schedule' };
  return {
    type: 'startWorkflow' as const,
    workflowType: BACKUP_WORKFLOW,
    workflowId: backupScheduleId(t.vmId),
    taskQueue: t.taskQueue,
    args: [input],
    typedSearchAttributes: vmSearchAttributes(t.ownerId, t.vmId, 'openstack'),
    memo: { ownerId: t.ownerId, vmId: t.vmId },
  };
}

/** Temporal refused the schedule's spec (a period it cannot run); the message says why. */
export class ScheduleSpecRefusedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ScheduleSpecRefusedError';
  }
}

/**
 * Creates the schedule, or brings an existing one in line with the policy (idempotent). Throws
 * ScheduleSpecRefusedError when Temporal refuses the period (the client reports INVALID_ARGUMENT
 * "Invalid schedule spec" as a TypeError); the existing schedule is then left as it was.
 */
export async function upsertBackupSchedule(client: Client, t: BackupScheduleTarget, policy: BackupPolicy): Promise<void> {
  await upsertPolicySchedule(client, { scheduleId: backupScheduleId(t.vmId), action: action(t), memo: { ownerId: t.ownerId, vmId: t.vmId } }, policy);
}

/** Idempotent: a schedule that does not exist is fine. */
export async function deleteBackupSchedule(client: Client, vmId: string): Promise<boolean> {
  return deletePolicySchedule(client, backupScheduleId(vmId));
}

export async function describeBackupSchedule(client: Client, vmId: string) {
  return describePolicySchedule(client, backupScheduleId(vmId));
}

/** A backup policy's schedule: a VM's (above) or an environment's (src/environments/backup-schedule.ts). */
export interface PolicySchedule {
  scheduleId: string;
  action: ScheduleOptionsAction;
  memo: Record<string, string>;
}

/** Creates the schedule or brings it in line with the policy; ScheduleSpecRefusedError when Temporal refuses the period. */
export async function upsertPolicySchedule(client: Client, s: PolicySchedule, policy: BackupPolicy): Promise<void> {
  try {
    await createOrUpdateSchedule(client, s, policy);
  } catch (err) {
    if (err instanceof TypeError) throw new ScheduleSpecRefusedError(err.message, { cause: err });
    throw err;
  }
}

async function createOrUpdateSchedule(client: Client, s: PolicySchedule, policy: BackupPolicy): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: s.scheduleId,
      spec: scheduleSpec(policy),
      action: s.action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute', pauseOnFailure: false },
      state: { paused: policy.paused, note: policy.paused ? 'paused by the owner' : undefined },
      memo: s.memo,
    });
    return;
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  const handle = client.schedule.getHandle(s.scheduleId);
  await handle.update((prev) => ({ ...prev, spec: scheduleSpec(policy), action: s.action, policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: 60_000 } }));
  const desc = await handle.describe();
  if (policy.paused && !desc.state.paused) await handle.pause('paused by the owner');
  if (!policy.paused && desc.state.paused) await handle.unpause('resumed by the owner');
}

/** Idempotent: a schedule that does not exist is fine. */
export async function deletePolicySchedule(client: Client, scheduleId: string): Promise<boolean> {
  try {
    await client.schedule.getHandle(scheduleId).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

export async function describePolicySchedule(client: Client, scheduleId: string) {
  try {
    const d = await client.schedule.getHandle(scheduleId).describe();
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
