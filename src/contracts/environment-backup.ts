/**
 * Contract of group protection (issue 15, item 3): one backup policy and one Temporal Schedule per
 * environment (`env-backup:<envId>`) start backupEnvironment, which starts every member's backup
 * through the ordinary backupVm workflow (as children, all at once) and keeps one group restore
 * point: the members' backup ids and outcomes, `complete` only when every member's backup
 * succeeded. Imported by the workflow, activities and API; no I/O.
 */
import type { BackupStatus } from './backup';

export const BACKUP_ENVIRONMENT_WORKFLOW = 'backupEnvironment';

/** The environment's schedule; its runs get `<scheduleId>-<time>` from Temporal. */
export const environmentBackupScheduleId = (envId: string): string => `env-backup:${envId}`;
/** A group backup run by hand (POST /environments/:id/backups). */
export const manualEnvironmentBackupWorkflowId = (envId: string, requestId: string): string => `env-backup:${envId}:manual-${requestId}`;
/** The final group backup a destroy run takes before it deletes anything (one per destroy run). */
export const finalEnvironmentBackupWorkflowId = (envId: string, destroyRunId: string): string => `env-backup:${envId}:final-${destroyRunId}`;
/** A member's backup inside a group run (a backupVm child): one per member and group run. */
export const groupMemberBackupWorkflowId = (vmId: string, groupKey: string): string => `vm-backup:${vmId}:group-${groupKey}`;

/**
 * How long a member's backup may take to start (to take its VM's lease and begin its snapshot)
 * before the group point is marked incomplete without it and that member's run is withdrawn.
 * Snapshots of the members are then at most this far apart.
 */
export const GROUP_BACKUP_WINDOW_SECONDS = 300;

export interface EnvironmentBackupInput {
  envId: string;
  ownerId: string;
  /** `final`: taken by the environment's destroy before its members are deleted (their store copies are kept). */
  trigger: 'schedule' | 'manual' | 'final';
  /** Default GROUP_BACKUP_WINDOW_SECONDS. */
  windowSeconds?: number;
}

/** `not-started`: the member's backup had not begun within the window (its run was withdrawn). */
export type GroupMemberBackupStatus = BackupStatus | 'pending' | 'not-started';

export interface GroupMemberBackup {
  name: string;
  vmId: string;
  /** The member's backupVm run. */
  workflowId: string;
  /** The member's backup (GET /vms/:vmId/backups), once it began. */
  backupId?: string;
  status: GroupMemberBackupStatus;
  reason?: string;
}

/** `skipped`: nothing was started (the environment is not active; the message says why). */
export type GroupBackupStatus = 'running' | 'complete' | 'incomplete' | 'skipped';

export interface EnvironmentBackupResult {
  /** The group restore point (its record's id: the run's workflow id). */
  pointId: string;
  status: GroupBackupStatus;
  reason?: string;
  members: GroupMemberBackup[];
}

/**
 * The group point's outcome from its members': complete only when every member's backup
 * succeeded (a `partial` one, with a standby missing, does not count); otherwise the reason names
 * each member that fell short and why.
 */
export function summarizeGroupBackup(members: readonly GroupMemberBackup[]): { status: 'complete' | 'incomplete'; reason?: string } {
  if (!members.length) return { status: 'incomplete', reason: 'the environment has no members to back up' };
  const short = members.filter((m) => m.status !== 'succeeded');
  if (!short.length) return { status: 'complete' };
  return { status: 'incomplete', reason: short.map((m) => `${m.name}: ${m.status}${m.reason ? ` (${m.reason})` : ''}`).join('; ') };
}
