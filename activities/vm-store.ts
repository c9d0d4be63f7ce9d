/**
 * VM documents and rendering. The VM's workflows are the only writers of its document (the API
 * only inserts it), so a read-modify-write here never races (FerretDB has no atomic CAS).
 */
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { loadCatalog } from '../src/catalog/load';
import type { Catalog } from '../src/catalog';
import type { CloudKind, VmPlacement, VmState } from '../src/contracts/vm';
import { renderHeatTemplate, stackParameters, RequirementsError, type VmRequirements } from '../src/templates';
import { vmModel } from '../src/vms/model';
import { vmOperationModel } from '../src/vms/operations';
import { markVmListChanged } from '../src/vms/list-version';
import { whileBusy } from '../src/db/connection';
import { markProtectedSetChanged, monitoredKey } from '../src/dr/protected-set';
import type { WorkflowProgress } from '../src/contracts/progress';
import type { ActivityDeps } from './deps';

export interface SetVmStateInput {
  vmId: string;
  to: VmState;
  reason: string;
  placement?: VmPlacement | null;
  lastError?: string | null;
  requirements?: VmRequirements;
  /** The update revision this change belongs to (names the next update workflow). */
  revision?: number;
}

export interface RenderedOpenStackVm {
  template: Record<string, unknown>;
  parameters: Record<string, unknown>;
}

export function createVmStoreActivities(deps: ActivityDeps) {
  let catalog: Catalog | undefined;
  const getCatalog = () => (catalog ??= loadCatalog());

  return {
    /** Renders the Heat template for a VM (the catalog may be overridden by the operator's file). */
    async renderOpenStackVm(input: { vmId: string; ownerId: string; requirements: VmRequirements; network?: string }): Promise<RenderedOpenStackVm> {
      // The VM's own network (an environment's) when it has one: an update or a restore keeps it.
      const network = input.network ?? (await vmModel(deps.db).findById(input.vmId, { network: 1 }).lean())?.network;
      const settings = {
        network: network ?? deps.openstack?.network ?? 'private',
        metadata: { vmflow_vm_id: input.vmId, vmflow_owner_id: input.ownerId },
      };
      try {
        const rendered = renderHeatTemplate(input.requirements, getCatalog(), settings);
        return { template: rendered.template as unknown as Record<string, unknown>, parameters: { ...stackParameters(input.requirements, getCatalog(), settings) } };
      } catch (err) {
        if (err instanceof RequirementsError) {
          throw ApplicationFailure.nonRetryable(err.errors.map((e) => `${e.field}: ${e.message}`).join('; '), 'InvalidRequirements');
        }
        throw err;
      }
    },

    /** The parts of the VM record a workflow needs (never secrets: accounts are references). */
    async getVm(input: { vmId: string }): Promise<{ vmId: string; ownerId: string; cloud: CloudKind; accountId: string; state: VmState; placement?: VmPlacement; requirements: VmRequirements }> {
      const doc = await vmModel(deps.db).findById(input.vmId).lean();
      if (!doc) throw ApplicationFailure.nonRetryable(`VM ${input.vmId} has no record`, 'VmNotFound');
      return { vmId: doc._id, ownerId: doc.ownerId, cloud: doc.cloud, accountId: doc.accountId, state: doc.state, placement: doc.placement ?? undefined, requirements: doc.requirements };
    },

    /**
     * The calling workflow's progress, for readers (src/vms/operations.ts): run as a local
     * activity at every step boundary, one after another, so the last write is the newest step.
     */
    async recordOperationProgress(input: { vmId: string; ownerId: string; progress: WorkflowProgress }): Promise<void> {
      const run = Context.current().info.workflowExecution;
      if (!run?.workflowId) return;
      // `closed` belongs to an earlier run of this id (a delete retried after it failed). A write
      // burst on FerretDB answers SQLITE_BUSY: waited out, or readers would see an older step.
      await whileBusy(() => vmOperationModel(deps.db).updateOne(
        { _id: run.workflowId },
        { $set: { vmId: input.vmId, ownerId: input.ownerId, runId: run.runId, progress: JSON.parse(JSON.stringify(input.progress)) as WorkflowProgress }, $unset: { closed: 1 } },
        { upsert: true },
      ));
    },

    /** Moves the VM to a state and appends the change to its history; a repeat is a no-op. */
    async setVmState(input: SetVmStateInput): Promise<void> {
      const Vm = vmModel(deps.db);
      const workflowId = Context.current().info.workflowExecution?.workflowId;
      const doc = await Vm.findById(input.vmId).lean();
      if (!doc) throw ApplicationFailure.nonRetryable(`VM ${input.vmId} has no record`, 'VmNotFound');
      const last = doc.history[doc.history.length - 1];
      const repeat = last && last.to === input.to && last.workflowId === workflowId && last.reason === input.reason;
      const set: Record<string, unknown> = { state: input.to };
      const unset: Record<string, 1> = {};
      if (input.placement !== undefined) {
        if (input.placement === null) unset.placement = 1;
        else set.placement = input.placement;
      }
      if (input.lastError !== undefined) {
        if (input.lastError === null) unset.lastError = 1;
        else set.lastError = input.lastError;
      }
      if (input.requirements) set.requirements = input.requirements;
      if (input.revision !== undefined) set.revision = input.revision;
      if (workflowId && !doc.workflowIds.includes(workflowId)) set.workflowIds = [...doc.workflowIds, workflowId];
      if (!repeat) set.history = [...doc.history, { at: new Date(), from: doc.state, to: input.to, reason: input.reason, workflowId }];
      await Vm.updateOne({ _id: input.vmId }, { $set: set, ...(Object.keys(unset).length ? { $unset: unset } : {}) });
      await markVmListChanged(deps.db, doc.ownerId);
      const placement = input.placement === undefined ? doc.placement : input.placement;
      if (monitoredKey(doc) !== monitoredKey({ state: input.to, placement })) await markProtectedSetChanged(deps.db);
    },
  };
}

