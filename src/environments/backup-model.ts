/**
 * Group protection's documents, each with one writer (FerretDB does not apply concurrent updates
 * of one document atomically, so the environment record, written by its workflows, is not shared):
 * - `environment_backup_policies` (_id: the environment id), written only by the API
 *   (src/environments/backup-service.ts) — and removed by the destroy graph with its schedule;
 * - `environment_backups`, the group restore points, each written only by the backupEnvironment
 *   run that made it (its _id is that run's workflow id).
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type { BackupPolicy } from '../contracts/backup';
import { backupPolicyFields } from '../backups/model';
import type { GroupBackupStatus, GroupMemberBackup } from '../contracts/environment-backup';

export interface EnvironmentBackupPolicyRecord extends BackupPolicy {
  _id: string; // the environment id
  ownerId: string;
  /** The CloudStack account that holds the members' backup-cloud standbys. */
  backupAccountId: string;
  /** How long members' backups may take to start (default GROUP_BACKUP_WINDOW_SECONDS). */
  windowSeconds?: number;
  updatedAt: Date;
}

const policySchema = new Schema<EnvironmentBackupPolicyRecord>(
  { ...backupPolicyFields, windowSeconds: Number },
  { versionKey: false, timestamps: { createdAt: false, updatedAt: true } },
);

export function environmentBackupPolicyModel(conn: Connection): Model<EnvironmentBackupPolicyRecord> {
  return (
    (conn.models.EnvironmentBackupPolicy as Model<EnvironmentBackupPolicyRecord>) ??
    conn.model<EnvironmentBackupPolicyRecord>('EnvironmentBackupPolicy', policySchema, 'environment_backup_policies')
  );
}

export interface EnvironmentBackupRecord {
  _id: string; // the backupEnvironment run's workflow id
  envId: string;
  ownerId: string;
  trigger: 'schedule' | 'manual' | 'final';
  status: GroupBackupStatus;
  reason?: string;
  windowSeconds: number;
  startedAt: Date;
  finishedAt?: Date;
  members: GroupMemberBackup[];
}

const pointSchema = new Schema<EnvironmentBackupRecord>(
  {
    _id: { type: String, required: true },
    envId: { type: String, required: true, index: true },
    ownerId: { type: String, required: true, index: true },
    trigger: { type: String, required: true },
    status: { type: String, required: true },
    reason: String,
    windowSeconds: { type: Number, required: true },
    startedAt: { type: Date, required: true },
    finishedAt: Date,
    members: [Schema.Types.Mixed],
  },
  { versionKey: false, minimize: false },
);

export function environmentBackupModel(conn: Connection): Model<EnvironmentBackupRecord> {
  return (conn.models.EnvironmentBackup as Model<EnvironmentBackupRecord>) ?? conn.model<EnvironmentBackupRecord>('EnvironmentBackup', pointSchema, 'environment_backups');
}
