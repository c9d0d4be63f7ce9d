/**
 * Holding a VM's lease from its owner (workflows/owner.ts) around the part of a workflow that
 * changes the VM's cloud resources. The lease is asked for, waited for, and always given back —
 * also when the work fails or the workflow is cancelled (a preempted backup, a withdrawn request).
 * A child that works for a parent already holding the lease inherits it instead of asking again
 * (the parent would otherwise wait for its own child: a deadlock).
 *
 * Histories recorded before the owner existed replay without it (patched(OWNER_PATCH)).
 */
import { CancellationScope, condition, defineSignal, getExternalWorkflowHandle, log, patched, setHandler, uuid4, workflowInfo } from '@temporalio/workflow';
import { OWNER_PATCH, OWNER_SIGNALS, vmOwnerWorkflowId, type LeaseGrant, type LeaseRelease, type VmOperationKind } from '../../src/contracts/owner';
import { store } from './activity-presets';

const leaseGranted = defineSignal<[LeaseGrant]>(OWNER_SIGNALS.granted);
const leaseReleased = defineSignal<[LeaseRelease]>(OWNER_SIGNALS.release);

/** Lease ids granted to this workflow (module state is per workflow execution). */
const grants = new Set<string>();
let handlerSet = false;

/**
 * Whether this piece of work goes through the VM owner. Ask once where the work begins and pass
 * the answer on: a history recorded before the owner existed replays without it, and a decision
 * taken once cannot flip half-way through one operation when replay catches up.
 */
export function ownerAware(): boolean {
  return patched(OWNER_PATCH);
}

export interface Lease {
  /** Undefined when replaying a history from before the owner (no lease was taken then). */
  leaseId?: string;
  /** True when the lease came from the parent workflow. */
  inherited: boolean;
}

export interface LeaseOptions {
  /** The parent's lease id, when a parent holding the lease started this workflow for that work. */
  inherited?: string;
  /** ownerAware() as asked where the work began; asked here when not given. */
  useOwner?: boolean;
}

/** Runs `work` while holding the VM's lease. */
export async function withVmLease<T>(vmId: string, operation: VmOperationKind, opts: LeaseOptions, work: (lease: Lease) => Promise<T>): Promise<T> {
  if (opts.inherited) return work({ leaseId: opts.inherited, inherited: true });
  if (!(opts.useOwner ?? ownerAware())) return work({ inherited: false });
  if (!handlerSet) {
    handlerSet = true;
    setHandler(leaseGranted, ({ leaseId }) => void grants.add(leaseId));
  }
  const info = workflowInfo();
  const leaseId = uuid4();
  try {
    await store.requestVmLease({ vmId, request: { leaseId, holderWorkflowId: info.workflowId, holderRunId: info.runId, operation, requestedAt: new Date().toISOString() } });
    await condition(() => grants.has(leaseId));
    return await work({ leaseId, inherited: false });
  } finally {
    // Given back whatever happened (a request still waiting is withdrawn the same way).
    await CancellationScope.nonCancellable(async () => {
      try {
        await getExternalWorkflowHandle(vmOwnerWorkflowId(vmId)).signal(leaseReleased, { leaseId });
      } catch (err) {
        // The owner is gone only if it never started (the request failed): nothing is held.
        log.warn('could not release the VM lease', { vmId, leaseId, error: String(err) });
      }
    });
  }
}
