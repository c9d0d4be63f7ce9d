/**
 * CloudStack side of the VM lifecycle: one deployVirtualMachine instance per VM, named
 * `vmflow-<vmId>`; a retried create lists by that name first. Names in the catalog (template,
 * service offering) are resolved to ids by listing the cloud, so the catalog stays cloud-neutral.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Context, sleep } from '@temporalio/activity';
import { loadCatalog } from '../src/catalog/load';
import type { Catalog } from '../src/catalog';
import type { CloudStackClient } from '../src/clouds/cloudstack/client';
import type { CsVirtualMachine } from '../src/clouds/cloudstack/types';
import type { VmPlacement } from '../src/contracts/vm';
import { environmentNetworkName } from '../src/contracts/environment';
import { renderCloudStackDeploy, RequirementsError, CloudSettingsError, type VmRequirements } from '../src/templates';
import type { ActivityDeps } from './deps';
import { translateCloudErrors } from './cloud-failures';
import { CS_GONE, cloudAccounts, csVmsNamed, findZone } from './cloud-helpers';

export type CsWaitTarget = 'Running' | 'Stopped' | 'Gone';

export function placementOf(accountId: string, vm: CsVirtualMachine): VmPlacement {
  return {
    cloud: 'cloudstack',
    accountId,
    serverId: vm.id,
    status: vm.state,
    addresses: (vm.nic ?? []).filter((n) => n.ipaddress).map((n) => ({ network: n.networkid, addr: n.ipaddress!, version: 4 as const, type: 'fixed' as const })),
  };
}

/** Lists what deployVirtualMachine needs (zone, template, offering ids) and renders the parameters. */
async function deployParams(cs: CloudStackClient, catalog: Catalog, requirements: VmRequirements, zoneName: string | undefined, signal: AbortSignal, networkName?: string) {
  const zone = await findZone(cs, zoneName, signal);
  const [featured, own, offerings, networks] = await Promise.all([
    cs.listTemplates({ templatefilter: 'executable', zoneid: zone.id }, { signal }),
    cs.listTemplates({ templatefilter: 'self', zoneid: zone.id }, { signal }),
    cs.listServiceOfferings({}, { signal }),
    cs.listNetworks({ zoneid: zone.id }, { signal }).catch(() => []),
  ]);
  const templateIdByName = Object.fromEntries([...featured, ...own].filter((t) => t.isready).map((t) => [t.name, t.id]));
  // A VM of an environment goes on the environment's network (made before it: gone means a bug or a race with its destroy).
  // Otherwise the zone's first network that is no environment's own.
  const network = networkName === undefined ? networks.find((n) => !n.name.startsWith(environmentNetworkName(''))) : networks.find((n) => n.name === networkName);
  if (networkName !== undefined && !network) throw ApplicationFailure.nonRetryable(`CloudStack network ${networkName} not found in zone ${zone.name}`, 'NotFound');
  const offeringIdByName = Object.fromEntries(offerings.map((o) => [o.name, o.id]));
  try {
    return renderCloudStackDeploy(requirements, catalog, {
      zoneId: zone.id,
      templateIdByName,
      offeringIdByName,
      ...(network ? { networkIds: [network.id] } : {}),
    });
  } catch (err) {
    if (err instanceof RequirementsError) throw ApplicationFailure.nonRetryable(err.errors.map((e) => `${e.field}: ${e.message}`).join('; '), 'InvalidRequirements');
    if (err instanceof CloudSettingsError) throw ApplicationFailure.nonRetryable(err.errors.map((e) => `${e.field}: ${e.message}`).join('; '), 'Misconfigured');
    throw err;
  }
}

export function createCloudStackVmActivities(deps: ActivityDeps) {
  const pollMs = deps.timing?.pollIntervalMs ?? 2000;
  let catalog: Catalog | undefined;
  const getCatalog = () => (catalog ??= loadCatalog());

  async function findByName(cs: CloudStackClient, name: string, signal: AbortSignal): Promise<CsVirtualMachine | undefined> {
    return (await csVmsNamed(cs, name, signal))[0];
  }

  return {
    /** Idempotent create: an instance of this name that is not destroyed is the one we made. */
    async csEnsureVm(input: { accountId: string; vmId: string; name: string; requirements: VmRequirements; startVm: boolean; network?: string }): Promise<{ csVmId: string; jobId?: string; created: boolean }> {
      return translateCloudErrors(async () => {
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const signal = Context.current().cancellationSignal;
        const existing = await findByName(cs, input.name, signal);
        if (existing) return { csVmId: existing.id, created: false };
        const params = await deployParams(cs, getCatalog(), input.requirements, deps.cloudstack?.zone, signal, input.network);
        const ref = await cs.deployVirtualMachine(
          {
            ...params,
            name: input.name,
            displayname: input.requirements.name,
            startvm: input.startVm,
            networkids: params.networkids ? params.networkids.split(',') : undefined,
          },
          { signal },
        );
        if (!ref.id) throw new Error(`deployVirtualMachine answered without an id (job ${ref.jobid})`);
        return { csVmId: ref.id, jobId: ref.jobid, created: true };
      });
    },

    /** Polls the instance (and its job, if given) until it reaches `target`; heartbeats its state. */
    async csAwaitVm(input: { accountId: string; csVmId: string; jobId?: string; target: CsWaitTarget }): Promise<{ state: string }> {
      return translateCloudErrors(async () => {
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const ctx = Context.current();
        for (;;) {
          if (input.jobId) {
            const job = await cs.queryAsyncJobResult(input.jobId, { signal: ctx.cancellationSignal });
            if (job.jobstatus === 2) {
              const r = (job.jobresult ?? {}) as { errortext?: string; errorcode?: number };
              throw ApplicationFailure.nonRetryable(`CloudStack job ${input.jobId} (${job.cmd}) failed: ${r.errortext ?? 'no reason given'}`, 'AsyncJobFailed');
            }
          }
          const vm = await cs.getVirtualMachine(input.csVmId, { signal: ctx.cancellationSignal });
          const state = vm?.state ?? 'Gone';
          ctx.heartbeat({ state });
          if (input.target === 'Gone' && (!vm || CS_GONE.has(vm.state))) return { state };
          if (vm && vm.state === input.target) return { state };
          if (vm?.state === 'Error') throw ApplicationFailure.nonRetryable(`CloudStack VM ${input.csVmId} is in state Error`, 'VmError');
          if (!vm && input.target !== 'Gone') throw ApplicationFailure.nonRetryable(`CloudStack VM ${input.csVmId} disappeared`, 'NotFound');
          await sleep(pollMs);
        }
      });
    },

    async csReadVm(input: { accountId: string; csVmId: string }): Promise<VmPlacement> {
      return translateCloudErrors(async () => {
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const vm = await cs.getVirtualMachine(input.csVmId, { signal: Context.current().cancellationSignal });
        if (!vm) throw ApplicationFailure.nonRetryable(`CloudStack VM ${input.csVmId} not found`, 'NotFound');
        return placementOf(input.accountId, vm);
      });
    },

    /** Idempotent destroy with expunge; an instance already gone is fine. */
    async csDestroyVm(input: { accountId: string; name: string; csVmId?: string }): Promise<{ existed: boolean; csVmId?: string }> {
      return translateCloudErrors(async () => {
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const signal = Context.current().cancellationSignal;
        const vm = input.csVmId ? await cs.getVirtualMachine(input.csVmId, { signal }) : await findByName(cs, input.name, signal);
        if (!vm || CS_GONE.has(vm.state)) return { existed: false, csVmId: vm?.id };
        await cs.destroyVirtualMachine(vm.id, { expunge: true }, { signal });
        return { existed: true, csVmId: vm.id };
      });
    },

    /**
     * Applies changed requirements: a new size through changeServiceForVirtualMachine (the instance
     * is stopped for it and started again) and new cloud-init user data through updateVirtualMachine.
     */
    async csUpdateVm(input: { accountId: string; csVmId: string; requirements: VmRequirements }): Promise<void> {
      return translateCloudErrors(async () => {
        const cs = await cloudAccounts(deps).cloudstack(input.accountId);
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const vm = await cs.getVirtualMachine(input.csVmId, { signal });
        if (!vm) throw ApplicationFailure.nonRetryable(`CloudStack VM ${input.csVmId} not found`, 'NotFound');
        const params = await deployParams(cs, getCatalog(), input.requirements, deps.cloudstack?.zone, signal);
        const waitJob = async (jobid: string) => cs.waitForJob(jobid, { signal, pollIntervalMs: pollMs, onProgress: (j) => ctx.heartbeat({ job: j.cmd, status: j.jobstatus }) });
        if (params.serviceofferingid !== vm.serviceofferingid) {
          if (vm.state === 'Running') await waitJob((await cs.stopVirtualMachine(vm.id, {}, { signal })).jobid);
          await cs.request('changeServiceForVirtualMachine', { id: vm.id, serviceofferingid: params.serviceofferingid }, { signal });
        }
        if (params.userdata) await cs.request('updateVirtualMachine', { id: vm.id, userdata: params.userdata }, { signal, method: 'POST' });
        const now = await cs.getVirtualMachine(vm.id, { signal });
        if (now && now.state === 'Stopped') await waitJob((await cs.startVirtualMachine(vm.id, { signal })).jobid);
      });
    },
  };
}
