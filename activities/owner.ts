/**
 * Activities of the VM owner (workflows/owner.ts): asking for a VM's lease (signal-with-start of
 * the owner, which workflow code cannot do itself), telling whether a holder still runs, and the
 * live-copy guard that every activity deleting, replacing or stopping a server calls first.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import { OWNER_SIGNALS, VM_OWNER_WORKFLOW, vmOwnerWorkflowId, type LeaseRequest, type VmOwnerInput } from '../src/contracts/owner';
import type { CloudKind } from '../src/contracts/vm';
import { vmModel } from '../src/vms/model';
import type { ActivityDeps } from './deps';

export interface LiveCopyRef {
  cloud: CloudKind;
  accountId: string;
  serverId: string;
}

/**
 * Refuses (non-retryable `LiveCopyProtected`) when the server is the copy a VM runs on — the
 * placement of a VM that is not being deleted. The lease already serialises operations; this is
 * the second line: a stray attempt (an activity still running after its workflow was cancelled, a
 * name that now belongs to a promoted standby) can never take the live copy down.
 */
export async function assertNotLiveCopy(deps: ActivityDeps, ref: LiveCopyRef, action: string): Promise<void> {
  const live = await vmModel(deps.db)
    .findOne({ 'placement.cloud': ref.cloud, 'placement.serverId': ref.serverId, state: { $nin: ['deleting', 'deleted'] } }, { _id: 1 })
    .lean();
  if (live) {
    throw ApplicationFailure.nonRetryable(`refusing to ${action} ${ref.cloud} server ${ref.serverId}: it is the live copy of VM ${live._id}`, 'LiveCopyProtected');
  }
}

/** The ids of servers in `serverIds` that are some VM's live copy (one query for a listing). */
export async function liveCopiesAmong(deps: ActivityDeps, cloud: CloudKind, serverIds: string[]): Promise<Set<string>> {
  if (!serverIds.length) return new Set();
  const docs = await vmModel(deps.db)
    .find({ 'placement.cloud': cloud, 'placement.serverId': { $in: serverIds }, state: { $nin: ['deleting', 'deleted'] } }, { placement: 1 })
    .lean();
  return new Set(docs.map((d) => d.placement?.serverId).filter((id): id is string => !!id));
}

export function createOwnerActivities(deps: ActivityDeps) {
  const client = () => {
    if (!deps.temporalClient) throw ApplicationFailure.nonRetryable('the worker has no Temporal client for the VM owner', 'Misconfigured');
    return deps.temporalClient;
  };
  return {
    /**
     * Asks the VM's owner for its lease, starting the owner if it is not running. Idempotent: the
     * owner ignores a lease id it already knows. The grant arrives later as a signal.
     */
    async requestVmLease(input: { vmId: string; request: LeaseRequest }): Promise<void> {
      const start: VmOwnerInput = { vmId: input.vmId };
      await client().workflow.signalWithStart(VM_OWNER_WORKFLOW, {
        workflowId: vmOwnerWorkflowId(input.vmId),
        taskQueue: Context.current().info.taskQueue,
        args: [start],
        signal: OWNER_SIGNALS.request,
        signalArgs: [input.request],
        memo: { vmId: input.vmId },
      });
    },

    /** Whether a lease holder still runs (the owner frees the lease of one that ended without releasing it). */
    async workflowIsOpen(input: { workflowId: string; runId: string }): Promise<boolean> {
      try {
        const d = await client().workflow.getHandle(input.workflowId, input.runId).describe();
        return d.status.name === 'RUNNING';
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return false;
        throw err;
      }
    },
  };
}
