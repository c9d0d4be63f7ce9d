/**
 * The VM document. One writer at a time: the API inserts it (state `creating`, unique _id) and
 * from then on only the VM's workflows write it, through activities (see README, "Persistence on
 * FerretDB"). Every state change is appended to `history`.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type { CloudKind, VmAddress, VmPlacement, VmState } from '../contracts/vm';
import type { VmRequirements } from '../templates/requirements';

export interface VmHistoryEntry {
  at: Date;
  from: VmState | null;
  to: VmState;
  reason: string;
  workflowId?: string;
}

export interface VmRecord {
  _id: string;
  ownerId: string;
  name: string;
  cloud: CloudKind;
  accountId: string;
  requirements: VmRequirements;
  /** Bumped by every accepted PATCH; names the update workflow. */
  revision: number;
  state: VmState;
  placement?: VmPlacement;
  lastError?: string;
  /** Workflow IDs of the current and past operations, newest last. */
  workflowIds: string[];
  history: VmHistoryEntry[];
  /** SHA-256 of the create request, to tell an Idempotency-Key replay from a reuse. */
  requestFingerprint?: string;
  /** The environment the VM is a member of (src/environments), if any. */
  environmentId?: string;
  /**
   * The private network the VM's server is on (an environment's), by name; unset: the cloud's
   * default (OPENSTACK_NETWORK, CloudStack's first network). Renders of the VM keep it.
   */
  network?: string;
  createdAt: Date;
  updatedAt: Date;
}

const addressSchema = new Schema<VmAddress>({ network: String, addr: String, version: Number, type: String }, { _id: false });

const placementSchema = new Schema<VmPlacement>(
  {
    cloud: { type: String, required: true },
    accountId: { type: String, required: true },
    serverId: { type: String, required: true },
    stackId: String,
    stackName: String,
    status: String,
    addresses: [addressSchema],
  },
  { _id: false },
);

const vmSchema = new Schema<VmRecord>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true, index: true },
    name: { type: String, required: true },
    cloud: { type: String, required: true, enum: ['openstack', 'cloudstack'] },
    accountId: { type: String, required: true },
    requirements: { type: Schema.Types.Mixed, required: true },
    revision: { type: Number, default: 0 },
    state: { type: String, required: true },
    placement: placementSchema,
    lastError: String,
    workflowIds: [String],
    requestFingerprint: String,
    environmentId: { type: String, index: true },
    network: String,
    history: [
      new Schema<VmHistoryEntry>({ at: Date, from: String, to: String, reason: String, workflowId: String }, { _id: false }),
    ],
  },
  { timestamps: true, versionKey: false, minimize: false },
);
// The live-copy guard (activities/owner.ts) looks VMs up by the server they run on.
vmSchema.index({ 'placement.serverId': 1 });

export function vmModel(conn: Connection): Model<VmRecord> {
  return (conn.models.Vm as Model<VmRecord>) ?? conn.model<VmRecord>('Vm', vmSchema, 'vms');
}
