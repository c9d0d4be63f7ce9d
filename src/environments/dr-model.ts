/**
 * An environment's recovery plan on record: the protection (written by the API: enabled, settings,
 * the members' VMs, which the monitor's fan-out reads to route cloud verdicts to `env-dr:<envId>`)
 * and the status environmentDr writes for readers; and the reports of environment drills.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { Schema, type Connection, type Model } from 'mongoose';
import { whileBusy } from '../db/connection';
import type { DrSettings } from '../contracts/dr';
import { ENVIRONMENT_DR_SIGNALS, environmentDrWorkflowId, type EnvironmentDrSettings, type EnvironmentDrStatus, type EnvironmentDrillReport } from '../contracts/environment-dr';
import type { GuestHealthCheck } from '../dr/guest-checks';

export const ENVIRONMENT_DR_COLLECTION = 'environment_dr';
export const ENVIRONMENT_DRILLS_COLLECTION = 'environment_drills';

export interface EnvironmentDrRecord {
  _id: string; // the environment id
  ownerId: string;
  enabled: boolean;
  settings: EnvironmentDrSettings;
  /** The members' VMs: a cloud verdict about any of them goes to the environment's workflow. */
  memberVmIds: string[];
  /**
   * Members that were protected on their own when the environment was first protected, with their
   * own settings: unprotecting the environment gives them back, it does not unprotect them.
   */
  ownProtection?: Record<string, { settings: DrSettings; healthCheck?: GuestHealthCheck | null }>;
  /** As environmentDr last wrote it (its waves left out: FerretDB stores no nested arrays; readers compute them). */
  status?: Omit<EnvironmentDrStatus, 'waves'>;
  createdAt: Date;
  updatedAt: Date;
}

const drSchema = new Schema<EnvironmentDrRecord>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true, index: true },
    enabled: { type: Boolean, required: true },
    settings: { type: Schema.Types.Mixed, required: true },
    memberVmIds: { type: [String], index: true },
    ownProtection: { type: Schema.Types.Mixed },
    status: { type: Schema.Types.Mixed },
  },
  { timestamps: true, versionKey: false, minimize: false },
);

export function environmentDrModel(conn: Connection): Model<EnvironmentDrRecord> {
  return (conn.models.EnvironmentDr as Model<EnvironmentDrRecord>) ?? conn.model<EnvironmentDrRecord>('EnvironmentDr', drSchema, ENVIRONMENT_DR_COLLECTION);
}

export interface EnvironmentDrillRecord extends Omit<EnvironmentDrillReport, 'drillId'> {
  _id: string; // the drill id
  ownerId: string;
  workflowId: string;
}

const drillSchema = new Schema<EnvironmentDrillRecord>(
  {
    _id: { type: String, required: true },
    envId: { type: String, required: true, index: true },
    ownerId: { type: String, required: true },
    workflowId: { type: String, required: true },
    startedAt: { type: String, required: true },
    finishedAt: String,
    ok: Boolean,
    error: String,
    cleanedUp: Boolean,
    network: { type: Schema.Types.Mixed },
    members: { type: Schema.Types.Mixed },
  },
  { versionKey: false, minimize: false },
);

export function environmentDrillModel(conn: Connection): Model<EnvironmentDrillRecord> {
  return (conn.models.EnvironmentDrill as Model<EnvironmentDrillRecord>) ?? conn.model<EnvironmentDrillRecord>('EnvironmentDrill', drillSchema, ENVIRONMENT_DRILLS_COLLECTION);
}

/**
 * The plan's record and workflow go (the environment is being destroyed: its members' own DR
 * workflows end with their VMs). Idempotent: no error when it was never protected.
 */
export async function stopEnvironmentPlan(db: Connection, temporal: Client, envId: string): Promise<void> {
  await whileBusy(() => environmentDrModel(db).deleteOne({ _id: envId }));
  try {
    await temporal.workflow.getHandle(environmentDrWorkflowId(envId)).signal(ENVIRONMENT_DR_SIGNALS.stop);
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
}
