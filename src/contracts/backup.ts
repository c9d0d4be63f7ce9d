/**
 * Contract of periodic backup (UC-008): one Temporal Schedule per VM runs the backupVm workflow,
 * a task graph (Mistral-style) of snapshot → image → [base standby] ∥ [export → CloudStack
 * template → backup-cloud standby] → retention. No I/O here.
 */
export const BACKUP_WORKFLOW = 'backupVm';
export const RESTORE_WORKFLOW = 'restoreVm';

/** The schedule of a VM's backups. */
export const backupScheduleId = (vmId: string): string => `vm-backup:${vmId}`;
/** A backup started by hand (POST /vms/:id/backups); scheduled runs get `<scheduleId>-<time>`. */
export const manualBackupWorkflowId = (vmId: string, requestId: string): string => `vm-backup:${vmId}:manual-${requestId}`;
export const restoreWorkflowId = (vmId: string, requestId: string): string => `vm-restore:${vmId}:${requestId}`;

/** Deterministic cloud names, so a retried step finds what an earlier attempt made. */
export const backupImageName = (vmId: string, backupId: string): string => `vmflow-${vmId}-backup-${backupId}`;
export const backupTemplateName = (vmId: string, backupId: string): string => `vmflow-${vmId}-backup-${backupId}`;
export const backupStoreKey = (vmId: string, backupId: string): string => `vms/${vmId}/${backupId}.qcow2`;
export const standbyName = (vmId: string): string => `vmflow-${vmId}-standby`;

export interface BackupTargets {
  /** A stopped VM in the base cloud (OpenStack) made from the latest backup image. */
  baseStandby: boolean;
  /** The image copied through the image store into CloudStack, with a stopped VM made from it. */
  backupCloudStandby: boolean;
}

export interface BackupPolicy {
  /** Every N seconds (at least 1 in tests; the API asks for ≥ 60 unless configured otherwise) … */
  intervalSeconds?: number;
  /** … or a cron expression (5 fields, UTC). Exactly one of the two. */
  cron?: string;
  /** Keep the newest N good backups (images, templates, store copies); at least 1. */
  retention: number;
  targets: BackupTargets;
  paused: boolean;
}

export const BACKUP_TASKS = [
  'snapshot',
  'await-image',
  'record-metadata',
  'base-standby',
  'export',
  'register-template',
  'await-template',
  'backup-cloud-standby',
] as const;
export type BackupTaskName = (typeof BACKUP_TASKS)[number];

export interface BackupInput {
  vmId: string;
  ownerId: string;
  /**
   * `final`: the last backup of a VM about to be deleted with its environment ("preserve the
   * data"): the snapshot and its copy in the image store only — no standbys, no template, no
   * retention. The delete keeps that store copy (DeleteVmInput.keepBackupId).
   */
  trigger: 'schedule' | 'manual' | 'final';
  /** The VM's lease, when a parent that holds it (drVm re-protecting) runs this backup. */
  lease?: string;
}

/** `cancelled`: the run gave way to disaster recovery (its lease was preempted) or was cancelled. */
export type BackupStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'skipped' | 'cancelled';

export interface BackupResult {
  backupId: string;
  status: BackupStatus;
  reason?: string;
}

export interface RestoreInput {
  vmId: string;
  ownerId: string;
  /** Default: the newest backup with an image. */
  backupId?: string;
  /** The VM's lease, when a parent that holds it (drVm failing over in place) runs this restore. */
  lease?: string;
}
