/**
 * The environment document. The API inserts it (state `creating`, unique _id) and from then on
 * only the environment's workflows write it (activities/environment.ts): its state, its network
 * and the task states of the graph running now, at every step boundary.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type { CloudKind } from '../contracts/vm';
import type { EnvironmentNetwork, EnvironmentState, OnMemberFailure } from '../contracts/environment';
import type { TaskProgress } from '../contracts/progress';

export interface EnvironmentMemberRecord {
  name: string;
  vmId: string;
  requires: string[];
}

export interface EnvironmentRecord {
  _id: string;
  ownerId: string;
  name: string;
  cloud: CloudKind;
  accountId: string;
  preset?: string;
  /** Made from an earlier environment's group restore point (POST /environments with restoreFrom). */
  restoredFrom?: { environmentId: string; pointId: string };
  onMemberFailure: OnMemberFailure;
  state: EnvironmentState;
  members: EnvironmentMemberRecord[];
  network?: EnvironmentNetwork;
  /** The graph running now (or the last one): its kind and each task's state. */
  graph?: { kind: 'create' | 'rollback' | 'destroy'; tasks: TaskProgress[] };
  failedMembers: string[];
  lastError?: string;
  /** Workflow IDs of the environment's operations, newest last. */
  workflowIds: string[];
  /** SHA-256 of the create request, to tell an Idempotency-Key replay from a reuse. */
  requestFingerprint?: string;
  createdAt: Date;
  updatedAt: Date;
}

const environmentSchema = new Schema<EnvironmentRecord>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true, index: true },
    name: { type: String, required: true },
    cloud: { type: String, required: true, enum: ['openstack', 'cloudstack'] },
    accountId: { type: String, required: true },
    preset: String,
    restoredFrom: { type: Schema.Types.Mixed },
    onMemberFailure: { type: String, required: true },
    state: { type: String, required: true },
    members: [new Schema<EnvironmentMemberRecord>({ name: String, vmId: String, requires: [String] }, { _id: false })],
    network: { type: Schema.Types.Mixed },
    graph: { type: Schema.Types.Mixed },
    failedMembers: [String],
    lastError: String,
    workflowIds: [String],
    requestFingerprint: String,
  },
  { timestamps: true, versionKey: false, minimize: false },
);

export function environmentModel(conn: Connection): Model<EnvironmentRecord> {
  return (conn.models.Environment as Model<EnvironmentRecord>) ?? conn.model<EnvironmentRecord>('Environment', environmentSchema, 'environments');
}
