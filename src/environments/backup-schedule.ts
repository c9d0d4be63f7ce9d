/**
 * One Temporal Schedule per environment with a group backup policy (`env-backup:<envId>`): it
 * starts backupEnvironment, which backs every member up as one group restore point. The same
 * spec and policies as a VM's schedule (src/backups/schedule.ts: overlap skip, one-minute
 * catch-up window, jitter of up to 10 % of the period).
 */
import type { Client, ScheduleOptionsAction } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { BackupPolicy } from '../contracts/backup';
import { BACKUP_ENVIRONMENT_WORKFLOW, environmentBackupScheduleId, type EnvironmentBackupInput } from '../contracts/environment-backup';
import { deletePolicySchedule, describePolicySchedule, upsertPolicySchedule } from '../backups/schedule';
import { VMFLOW_CLOUD_KEY, VMFLOW_OWNER_KEY } from '../vms/search';

export interface EnvironmentScheduleTarget {
  envId: string;
  ownerId: string;
  taskQueue: string;
}

function action(t: EnvironmentScheduleTarget): ScheduleOptionsAction {
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
  await upsertPolicySchedule(client, { scheduleId: environmentBackupScheduleId(t.envId), action: action(t), memo: { ownerId: t.ownerId, envId: t.envId } }, policy);
}

/** Idempotent: a schedule that does not exist is fine. */
export async function deleteEnvironmentBackupSchedule(client: Client, envId: string): Promise<boolean> {
  return deletePolicySchedule(client, environmentBackupScheduleId(envId));
}

export async function describeEnvironmentBackupSchedule(client: Client, envId: string) {
  return describePolicySchedule(client, environmentBackupScheduleId(envId));
}
