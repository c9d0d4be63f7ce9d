/**
 * Environments (workflows/environment.ts): the private network of an environment in either cloud,
 * and the environment record its workflows keep for readers (GET /api/v1/environments/:id). Every
 * cloud step is idempotent by name (`vmflow-env-<envId>`): a retry finds what an earlier attempt
 * made instead of making a second. VMs are not made here: each member is an ordinary VM created
 * and deleted by its own workflows.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { environmentNetworkName, type EnvironmentNetwork, type EnvironmentState } from '../src/contracts/environment';
import type { TaskProgress } from '../src/contracts/progress';
import type { VmState } from '../src/contracts/vm';
import { environmentModel, type EnvironmentRecord } from '../src/environments/model';
import { environmentCidr, environmentNetworkTemplate } from '../src/environments/network-template';
import { vmModel } from '../src/vms/model';
import { whileBusy } from '../src/db/connection';
import type { ActivityDeps } from './deps';
import { translateCloudErrors } from './cloud-failures';
import { cloudAccounts, findZone } from './cloud-helpers';

export interface EnvironmentRecordChange {
  envId: string;
  state?: EnvironmentState;
  network?: EnvironmentNetwork | null;
  graph?: EnvironmentRecord['graph'];
  failedMembers?: string[];
  lastError?: string | null;
}

export function createEnvironmentActivities(deps: ActivityDeps) {
  return {
    /** The Heat template of the environment's network (net, subnet, router, interface). */
    async renderEnvironmentNetwork(input: { envId: string }): Promise<{ stackName: string; template: Record<string, unknown> }> {
      const name = environmentNetworkName(input.envId);
      const external = deps.openstack?.externalNetwork ?? 'public';
      return { stackName: name, template: environmentNetworkTemplate(name, { cidr: environmentCidr(input.envId), ...(external ? { externalNetwork: external } : {}) }) };
    },

    /** The network the environment's stack made (its `network_id` output). */
    async osReadEnvironmentNetwork(input: { accountId: string; stackName: string; stackId: string }): Promise<EnvironmentNetwork> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const outputs = await os.orchestration.getStackOutputs(input.stackName, input.stackId, { signal: Context.current().cancellationSignal });
        const networkId = outputs.find((o) => o.output_key === 'network_id')?.output_value;
        if (typeof networkId !== 'string' || !networkId) throw ApplicationFailure.nonRetryable(`stack ${input.stackName} has no network_id output`, 'StackOutputMissing');
        return { name: input.stackName, networkId, stackId: input.stackId };
      });
    },

    /** An isolated CloudStack network named after the environment (an existing one of that name is it). */
    async csEnsureEnvironmentNetwork(input: { accountId: string; envId: string }): Promise<EnvironmentNetwork> {
      return translateCloudErrors(async () => {
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const signal = Context.current().cancellationSignal;
        const zone = await findZone(cs, deps.cloudstack?.zone, signal);
        const name = environmentNetworkName(input.envId);
        const net = await cs.ensureNetwork({ name, zoneid: zone.id, displaytext: `vmflow environment ${input.envId}` }, { signal });
        return { name, networkId: net.id };
      });
    },

    /** Deletes the environment's CloudStack network(s) and waits for each job; none left is fine. */
    async csRemoveEnvironmentNetwork(input: { accountId: string; envId: string }): Promise<{ deleted: number }> {
      return translateCloudErrors(async () => {
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const ctx = Context.current();
        const zone = await findZone(cs, deps.cloudstack?.zone, ctx.cancellationSignal);
        const deleted = await cs.removeNetwork(environmentNetworkName(input.envId), zone.id, { signal: ctx.cancellationSignal, onProgress: (job) => ctx.heartbeat({ job: job.jobid }) });
        return { deleted };
      });
    },

    /** The environment's members as their VM records say now (a VM deleted on its own is `deleted`). */
    async environmentMemberStates(input: { envId: string }): Promise<Array<{ name: string; vmId: string; state: VmState | 'missing' }>> {
      const env = await environmentModel(deps.db).findById(input.envId).lean();
      if (!env) throw ApplicationFailure.nonRetryable(`environment ${input.envId} has no record`, 'EnvironmentNotFound');
      const vms = await vmModel(deps.db).find({ _id: { $in: env.members.map((m) => m.vmId) } }, { state: 1 }).lean();
      const state = new Map(vms.map((v) => [v._id, v.state]));
      return env.members.map((m) => ({ name: m.name, vmId: m.vmId, state: state.get(m.vmId) ?? 'missing' }));
    },

    /**
     * Writes what changed on the environment record (the workflows are its only writer after the
     * API's insert) and notes the calling workflow among its workflows.
     */
    async recordEnvironment(input: EnvironmentRecordChange): Promise<void> {
      const workflowId = Context.current().info.workflowExecution?.workflowId;
      const set: Record<string, unknown> = {};
      const unset: Record<string, 1> = {};
      if (input.state) set.state = input.state;
      if (input.graph) set.graph = JSON.parse(JSON.stringify(input.graph)) as unknown;
      if (input.failedMembers) set.failedMembers = input.failedMembers;
      for (const k of ['network', 'lastError'] as const) {
        if (input[k] === null) unset[k] = 1;
        else if (input[k] !== undefined) set[k] = input[k];
      }
      await whileBusy(() =>
        environmentModel(deps.db).updateOne(
          { _id: input.envId },
          { $set: set, ...(Object.keys(unset).length ? { $unset: unset } : {}), ...(workflowId ? { $addToSet: { workflowIds: workflowId } } : {}) },
        ),
      );
    },

    /** The graph's task states, for readers: a local activity at every step boundary, in order. */
    async recordEnvironmentGraph(input: { envId: string; kind: 'create' | 'rollback' | 'destroy'; tasks: TaskProgress[] }): Promise<void> {
      await whileBusy(() => environmentModel(deps.db).updateOne({ _id: input.envId }, { $set: { graph: JSON.parse(JSON.stringify({ kind: input.kind, tasks: input.tasks })) as unknown } }));
    },
  };
}
