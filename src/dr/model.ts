/**
 * Disaster-recovery records. One writer each: protections are written by the API (enable, change
 * settings, disable), an event is inserted once by the workflow that saw it happen and its
 * delivery status is written only by that event's alert workflow, a drill report by its drill.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type { DrEventKind, DrillReport, DrSettings, DrStatus } from '../contracts/dr';
import type { GuestHealthCheck } from './guest-checks';

export interface DrProtectionRecord {
  _id: string; // the VM id
  ownerId: string;
  enabled: boolean;
  settings: DrSettings;
  /** The guest check (src/dr/guest-checks.ts); kept when protection is switched off, so it comes back with it. */
  healthCheck?: GuestHealthCheck | null;
  createdAt: Date;
  updatedAt: Date;
}

const protectionSchema = new Schema<DrProtectionRecord>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true, index: true },
    enabled: { type: Boolean, required: true, index: true },
    settings: { failbackMode: String, failbackAfterHealthySeconds: Number },
    healthCheck: Schema.Types.Mixed,
  },
  { timestamps: true, versionKey: false },
);

/**
 * What the monitor last learnt of a VM's guest check, written only by the monitor's probe of the
 * VM's account, and only when something changes (a new server, the first pass, a pass turning to a
 * failure or back): 10,000 steady guests cost no writes. The probe reads it after a worker restart,
 * so a check that had passed stays armed; the API shows it.
 */
export interface GuestStatusRecord {
  _id: string; // the VM id
  accountId: string;
  serverId: string;
  /** The check it is about (a changed check starts over). */
  check?: string;
  /** The check has passed on this server: from now on a failure counts. */
  armed: boolean;
  ok: boolean;
  detail: string;
  /** When `ok` last changed (or the server was first checked). */
  since: Date;
}

const guestStatusSchema = new Schema<GuestStatusRecord>(
  {
    _id: { type: String, required: true },
    accountId: { type: String, required: true, index: true },
    serverId: { type: String, required: true },
    check: String,
    armed: { type: Boolean, required: true },
    ok: { type: Boolean, required: true },
    detail: { type: String, required: true },
    since: { type: Date, required: true },
  },
  { versionKey: false },
);

export function guestStatusModel(conn: Connection): Model<GuestStatusRecord> {
  return (conn.models.GuestStatus as Model<GuestStatusRecord>) ?? conn.model<GuestStatusRecord>('GuestStatus', guestStatusSchema, 'vm_guest_status');
}

export function drProtectionModel(conn: Connection): Model<DrProtectionRecord> {
  return (conn.models.DrProtection as Model<DrProtectionRecord>) ?? conn.model<DrProtectionRecord>('DrProtection', protectionSchema, 'dr_protections');
}

/**
 * The DR workflow's state for readers (issue 13: a read costs a few indexed lookups, never a
 * workflow query): written by drVm itself (a local activity, `recordDrState`) whenever its status
 * changes, and removed by it when protection stops. One writer: the `vm-dr:<vmId>` workflow, whose
 * runs never overlap. GET …/dr and the VM list's DR summary read it by _id.
 */
export interface DrStateRecord {
  _id: string; // the VM id
  ownerId: string;
  /** The run that wrote it. */
  runId?: string;
  /** What the drStatus query would answer at the time of the write. */
  status: DrStatus;
  /** When `status.state` last changed. */
  since: Date;
  updatedAt: Date;
}

const stateSchema = new Schema<DrStateRecord>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true, index: true },
    runId: String,
    status: { type: Schema.Types.Mixed, required: true },
    since: { type: Date, required: true },
    updatedAt: Date,
  },
  { versionKey: false, minimize: false },
);

export const DR_STATES_COLLECTION = 'dr_states';

export function drStateModel(conn: Connection): Model<DrStateRecord> {
  return (conn.models.DrState as Model<DrStateRecord>) ?? conn.model<DrStateRecord>('DrState', stateSchema, DR_STATES_COLLECTION);
}

export interface DrEventRecord {
  _id: string;
  ownerId: string;
  vmId: string;
  kind: DrEventKind;
  message: string;
  at: Date;
  rpoSeconds?: number;
  rtoSeconds?: number;
  details?: Record<string, unknown>;
  delivery: { status: 'pending' | 'delivered' | 'failed' | 'disabled'; attempts: number; lastError?: string; deliveredAt?: Date };
}

const eventSchema = new Schema<DrEventRecord>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true, index: true },
    vmId: { type: String, required: true, index: true },
    kind: { type: String, required: true },
    message: { type: String, required: true },
    at: { type: Date, required: true },
    rpoSeconds: Number,
    rtoSeconds: Number,
    details: Schema.Types.Mixed,
    delivery: { status: String, attempts: Number, lastError: String, deliveredAt: Date },
  },
  { versionKey: false, minimize: false },
);

export function drEventModel(conn: Connection): Model<DrEventRecord> {
  return (conn.models.DrEvent as Model<DrEventRecord>) ?? conn.model<DrEventRecord>('DrEvent', eventSchema, 'events');
}

/** A drill's report (src/contracts/dr.ts) as stored: keyed by the drill id, with its owner and workflow, dates as Date. */
export type DrillRecord = Omit<DrillReport, 'drillId' | 'startedAt' | 'finishedAt'> & {
  _id: string;
  ownerId: string;
  workflowId: string;
  startedAt: Date;
  finishedAt: Date;
};

const drillSchema = new Schema<DrillRecord>(
  {
    _id: { type: String, required: true },
    vmId: { type: String, required: true, index: true },
    ownerId: { type: String, required: true, index: true },
    workflowId: String,
    target: String,
    ok: Boolean,
    bootSeconds: Number,
    backupId: String,
    rpoSeconds: Number,
    cleanedUp: Boolean,
    error: String,
    startedAt: Date,
    finishedAt: Date,
  },
  { versionKey: false },
);

export function drillModel(conn: Connection): Model<DrillRecord> {
  return (conn.models.Drill as Model<DrillRecord>) ?? conn.model<DrillRecord>('Drill', drillSchema, 'drills');
}
