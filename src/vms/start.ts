/**
 * How the API starts a workflow of one VM: the owner's search attributes and memo (the Temporal
 * UI and workflowFor() find the owner there), and a start that joins a run already using the ID.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { WorkflowIdReusePolicy } from '@temporalio/common';
import type { CloudKind } from '../contracts/vm';
import { vmSearchAttributes } from './search';

export interface VmWorkflowStart {
  workflowId: string;
  taskQueue: string;
  args: unknown[];
  ownerId: string;
  vmId: string;
  cloud: CloudKind;
  /** Temporal's default when left out. */
  workflowIdReusePolicy?: WorkflowIdReusePolicy;
}

/**
 * Starts the workflow, or joins the run that already has its ID (a replayed request, a second
 * delete): true when this call started it. Every other error is thrown.
 */
export async function startOrJoin(client: Client, workflowType: string, s: VmWorkflowStart): Promise<boolean> {
  try {
    await client.workflow.start(workflowType, {
      workflowId: s.workflowId,
      taskQueue: s.taskQueue,
      args: s.args,
      ...(s.workflowIdReusePolicy !== undefined ? { workflowIdReusePolicy: s.workflowIdReusePolicy } : {}),
      typedSearchAttributes: vmSearchAttributes(s.ownerId, s.vmId, s.cloud),
      memo: { ownerId: s.ownerId, vmId: s.vmId },
    });
    return true;
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
    throw err;
  }
}
