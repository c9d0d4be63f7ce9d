/**
 * Backup records and backup policies. A backup record has one writer: the backupVm workflow run
 * that made it. A policy has one writer: the API (PATCH /vms/:id/backup-policy). Neither shares a
 * document with another writer (FerretDB updates are not atomic across writers; see README).
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type { BackupPolicy, BackupStatus } from '../contracts/backup';
import type { TaskProgress } from '../contracts/progress';

export interface BackupRecord {
  _id: string;
  vmId: string;
  ownerId: string;
  workflowId: string;
  /** failback: the image disaster recovery brought home from the backup cloud. */
  trigger: 'schedule' | 'manual' | 'failback' | 'final';
  status: BackupStatus;
  reason?: string;
  startedAt: Date;
  finishedAt?: Date;
  /** Where the backed-up VM ran. */
  source?: { accountId: string; serverId: string; size: string; os: string };
  image?: { id: string; name: string; size: number; checksum: string; osHashAlgo?: string; osHashValue?: string };
  store?: { key: string; size: number; sha256: string; md5: string };
  template?: { accountId: string; id: string; name: string; size?: number };
  baseStandby?: { accountId: string; serverId: string; name: string };
  backupCloudStandby?: { accountId: string; csVmId: string; name: string };
  tasks: TaskProgress[];
  /** Set by retention once the backup's image, template and store copy were deleted. */
  retiredAt?: Date;
  /** Set by the VM's delete for the backup it keeps: the clouds' copies are gone, the store copy stays. */
  preservedAt?: Date;
}

const backupSchema = new Schema<BackupRecord>(
  {
    _id: { type: String, required: true },
    vmId: { type: String, required: true, index: true },
    ownerId: { type: String, required: true, index: true },
    workflowId: { type: String, required: true },
    trigger: { type: String, required: true },
    status: { type: String, required: true },
    reason: String,
    startedAt: { type: Date, required: true },
    finishedAt: Date,
    source: Schema.Types.Mixed,
    image: Schema.Types.Mixed,
    store: Schema.Types.Mixed,
    template: Schema.Types.Mixed,
    baseStandby: Schema.Types.Mixed,
    backupCloudStandby: Schema.Types.Mixed,
    tasks: [Schema.Types.Mixed],
    retiredAt: Date,
    preservedAt: Date,
  },
  { versionKey: false, minimize: false },
);

export function backupModel(conn: Connection): Model<BackupRecord> {
  return (conn.models.Backup as Model<BackupRecord>) ?? conn.model<BackupRecord>('Backup', backupSchema, 'backups');
}

export interface BackupPolicyRecord extends BackupPolicy {
  _id: string; // the VM id
  ownerId: string;
  /** The CloudStack account that holds the backup-cloud standby. */
  backupAccountId: string;
  updatedAt: Date;
}

/** A backup policy's fields, for a VM's policy (below) and an environment's (src/environments/backup-model.ts). */
export const backupPolicyFields = {
  _id: { type: String, required: true },
  ownerId: { type: String, required: true, index: true },
  intervalSeconds: Number,
  cron: String,
  retention: { type: Number, required: true },
  targets: { baseStandby: Boolean, backupCloudStandby: Boolean },
  paused: { type: Boolean, default: false },
  backupAccountId: { type: String, required: true },
} as const;

const policySchema = new Schema<BackupPolicyRecord>(
  backupPolicyFields,
  { versionKey: false, timestamps: { createdAt: false, updatedAt: true } },
);

export function backupPolicyModel(conn: Connection): Model<BackupPolicyRecord> {
  return (conn.models.BackupPolicy as Model<BackupPolicyRecord>) ?? conn.model<BackupPolicyRecord>('BackupPolicy', policySchema, 'backup_policies');
}
