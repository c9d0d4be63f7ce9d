/**
 * What readers see of a VM operation (createVm, updateVm, deleteVm) without asking Temporal: its
 * progress, written by the workflow itself at every step boundary (a local activity,
 * `recordOperationProgress`), and — once the workflow has closed — its final status. Reading a VM
 * is then two lookups by _id (the VM, its newest operation); a closed workflow is never described
 * or queried again, so no read makes a worker replay a history (issue 13, item 3).
 *
 * One writer per document (README, "Persistence on FerretDB"): while the workflow runs, only its
 * own local activities write it, one after another; `closed` is written by the API only after
 * Temporal says the workflow has closed, when the workflow can no longer write. The key is the
 * workflow id.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import { whileBusy } from '../db/connection';
import type { WorkflowProgress } from '../contracts/progress';

export const VM_OPERATIONS_COLLECTION = 'vm_operations';

export interface VmOperationRecord {
  /** The workflow id. */
  _id: string;
  vmId: string;
  ownerId: string;
  /** The run that wrote `progress`. */
  runId?: string;
  progress?: WorkflowProgress;
  /** Temporal's status once the workflow has closed (COMPLETED, FAILED, TERMINATED, …). */
  closed?: { status: string; at: Date };
  updatedAt?: Date;
}

const operationSchema = new Schema<VmOperationRecord>(
  {
    _id: { type: String, required: true },
    vmId: { type: String, required: true },
    ownerId: { type: String, required: true, index: true },
    runId: String,
    progress: { type: Schema.Types.Mixed },
    closed: new Schema({ status: String, at: Date }, { _id: false }),
  },
  { timestamps: { createdAt: false, updatedAt: true }, versionKey: false, minimize: false },
);

export function vmOperationModel(conn: Connection): Model<VmOperationRecord> {
  return (conn.models.VmOperation as Model<VmOperationRecord>) ?? conn.model<VmOperationRecord>('VmOperation', operationSchema, VM_OPERATIONS_COLLECTION);
}

/**
 * The record of an operation the API is about to start, so that readers find its progress from
 * the first moment (before the workflow's first write). Never replaces a record: a replayed
 * request or a retried id keeps what its workflow wrote.
 */
export async function recordOperationStarting(conn: Connection, o: { workflowId: string; vmId: string; ownerId: string; kind: string; steps: readonly string[] }): Promise<void> {
  const progress: WorkflowProgress = { kind: o.kind, status: 'running', step: o.steps[0] ?? 'start', steps: [...o.steps], stepsDone: [], updatedAt: new Date().toISOString() };
  try {
    await whileBusy(() => vmOperationModel(conn).collection.insertOne({ _id: o.workflowId, vmId: o.vmId, ownerId: o.ownerId, progress, updatedAt: new Date() } as never));
  } catch (err) {
    if ((err as { code?: number }).code !== 11000) throw err;
  }
}
