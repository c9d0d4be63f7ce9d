/**
 * OpenStack side of the VM lifecycle: a Heat stack per VM, named after the VM (`vmflow-<vmId>`),
 * so a retried or replayed create finds the stack an earlier attempt made instead of making a
 * second one. Waits heartbeat the stack status and stop when the activity is cancelled.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Context, sleep } from '@temporalio/activity';
import type { VmAddress, VmPlacement } from '../src/contracts/vm';
import { stackStatus, type Server, type Stack } from '../src/clouds/openstack';
import type { ActivityDeps } from './deps';
import { translateCloudErrors } from './cloud-failures';
import { cloudAccounts, pollUntil } from './cloud-helpers';

export interface EnsureStackInput {
  accountId: string;
  stackName: string;
  template: Record<string, unknown>;
  parameters: Record<string, unknown>;
  tags: string[];
}

export interface StackHandle {
  stackName: string;
  stackId: string;
}

export type StackWaitAction = 'CREATE' | 'UPDATE' | 'DELETE';

export function addressesOf(server: { addresses?: Record<string, { addr: string; version: number; 'OS-EXT-IPS:type'?: string }[]> }): VmAddress[] {
  const out: VmAddress[] = [];
  for (const [network, list] of Object.entries(server.addresses ?? {})) {
    for (const a of list) out.push({ network, addr: a.addr, version: a.version === 6 ? 6 : 4, type: a['OS-EXT-IPS:type'] === 'floating' ? 'floating' : 'fixed' });
  }
  return out;
}

export function createOpenStackVmActivities(deps: ActivityDeps) {
  const pollMs = deps.timing?.pollIntervalMs ?? 2000;

  return {
    /** Idempotent: returns the stack of that name if one exists (any state but deleted), else creates it. */
    async osEnsureStack(input: EnsureStackInput): Promise<StackHandle & { created: boolean }> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const signal = Context.current().cancellationSignal;
        const existing = await os.orchestration.findStack(input.stackName, { signal });
        if (existing && stackStatus(existing).action !== 'DELETE') return { stackName: input.stackName, stackId: existing.id, created: false };
        try {
          const ref = await os.orchestration.createStack({
            stack_name: input.stackName,
            template: input.template,
            parameters: input.parameters,
            tags: input.tags,
            disable_rollback: true,
            timeout_mins: 60,
            signal,
          });
          return { stackName: input.stackName, stackId: ref.id, created: true };
        } catch (err) {
          // A lost answer to an earlier create: the name is taken by our own stack.
          const again = await os.orchestration.findStack(input.stackName, { signal }).catch(() => null);
          if (again && stackStatus(again).action !== 'DELETE') return { stackName: input.stackName, stackId: again.id, created: false };
          throw err;
        }
      });
    },

    /** The stack of that name, if one exists and is not deleted (a VM's home stack, by its name). */
    async osFindStack(input: { accountId: string; stackName: string }): Promise<{ stackId?: string }> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const found = await os.orchestration.findStack(input.stackName, { signal: Context.current().cancellationSignal });
        return found && stackStatus(found).action !== 'DELETE' ? { stackId: found.id } : {};
      });
    },

    /**
     * Nova resize of a server no stack owns (a promoted standby): resize → VERIFY_RESIZE →
     * confirmResize → ACTIVE. Idempotent: a server already on that flavor is left as it is, one
     * waiting in VERIFY_RESIZE is confirmed.
     */
    async osResizeServer(input: { accountId: string; serverId: string; flavorName: string }): Promise<VmPlacement> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const ctx = Context.current();
        const signal = ctx.cancellationSignal;
        const flavor = (await os.compute.listFlavors({ signal })).find((f) => f.name === input.flavorName);
        if (!flavor) throw ApplicationFailure.nonRetryable(`flavor ${input.flavorName} does not exist`, 'Misconfigured');
        const onFlavor = (srv: Server) => srv.flavor?.id === flavor.id || srv.flavor?.original_name === flavor.name;
        let resizeSent = false;
        const done = await pollUntil(`server ${input.serverId} to be resized to ${flavor.name}`, pollMs, async () => {
          const srv = await os.compute.getServer(input.serverId, { signal });
          ctx.heartbeat({ serverId: srv.id, status: srv.status });
          if (srv.status === 'VERIFY_RESIZE') {
            await os.compute.confirmResize(srv.id, { signal });
            return undefined;
          }
          if (srv.status === 'ERROR') throw ApplicationFailure.nonRetryable(`server ${srv.id} went to ERROR while resizing`, 'VmError');
          if (srv.status !== 'ACTIVE' && srv.status !== 'SHUTOFF') return undefined;
          if (onFlavor(srv)) return srv;
          if (!resizeSent) {
            await os.compute.resizeServer(srv.id, flavor.id, { signal });
            resizeSent = true;
          }
          return undefined;
        });
        return { cloud: 'openstack', accountId: input.accountId, serverId: done.id, status: done.status, addresses: addressesOf(done) };
      });
    },

    /** PATCH update: omitted parameters (and an omitted template) keep their values. */
    async osUpdateStack(input: StackHandle & { accountId: string; template?: Record<string, unknown>; parameters: Record<string, unknown> }): Promise<void> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        await os.orchestration.patchStack(input.stackName, input.stackId, {
          ...(input.template ? { template: input.template } : {}),
          parameters: input.parameters,
          signal: Context.current().cancellationSignal,
        });
      });
    },

    /**
     * Polls until the stack's `action` completes. FAILED is final (non-retryable StackFailed with
     * Heat's reason); for DELETE a stack that is gone counts as complete.
     */
    async osAwaitStack(input: StackHandle & { accountId: string; action: StackWaitAction }): Promise<{ status: string }> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const ctx = Context.current();
        for (;;) {
          let stack: Stack | null;
          try {
            stack = await os.orchestration.getStack(input.stackName, input.stackId, { signal: ctx.cancellationSignal });
          } catch (err) {
            if (input.action === 'DELETE' && (err as { kind?: string }).kind === 'NotFound') return { status: 'DELETE_COMPLETE' };
            throw err;
          }
          const s = stackStatus(stack);
          ctx.heartbeat({ status: stack.stack_status });
          if (s.action === input.action && s.complete) return { status: stack.stack_status };
          if (s.failed) {
            throw ApplicationFailure.nonRetryable(`stack ${input.stackName} ${stack.stack_status}: ${stack.stack_status_reason ?? 'no reason given'}`, 'StackFailed');
          }
          await sleep(pollMs); // rejects with CancelledFailure when the activity is cancelled
        }
      });
    },

    /** Reads the server the stack made: its id (stack output server_id), status and addresses. */
    async osReadServer(input: StackHandle & { accountId: string }): Promise<VmPlacement> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const signal = Context.current().cancellationSignal;
        const outputs = await os.orchestration.getStackOutputs(input.stackName, input.stackId, { signal });
        const serverId = outputs.find((o) => o.output_key === 'server_id')?.output_value;
        if (typeof serverId !== 'string' || !serverId) {
          throw ApplicationFailure.nonRetryable(`stack ${input.stackName} has no server_id output`, 'StackOutputMissing');
        }
        const server = await os.compute.getServer(serverId, { signal });
        return {
          cloud: 'openstack',
          accountId: input.accountId,
          serverId,
          stackId: input.stackId,
          stackName: input.stackName,
          status: server.status,
          addresses: addressesOf(server),
        };
      });
    },

    /** Reads a server that no stack owns (a promoted standby) as the VM's placement. */
    async osReadServerById(input: { accountId: string; serverId: string }): Promise<VmPlacement> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const server = await os.compute.getServer(input.serverId, { signal: Context.current().cancellationSignal });
        return { cloud: 'openstack', accountId: input.accountId, serverId: server.id, status: server.status, addresses: addressesOf(server) };
      });
    },

    /** Idempotent: a stack that is already gone is fine. Returns whether there was one. */
    async osDeleteStack(input: { accountId: string; stackName: string; stackId?: string }): Promise<{ existed: boolean; stackId?: string }> {
      return translateCloudErrors(async () => {
        const os = await cloudAccounts(deps).openstack(input.accountId);
        const signal = Context.current().cancellationSignal;
        const stack = input.stackId
          ? await os.orchestration.getStack(input.stackName, input.stackId, { signal }).catch((e) => ((e as { kind?: string }).kind === 'NotFound' ? null : Promise.reject(e)))
          : await os.orchestration.findStack(input.stackName, { signal });
        if (!stack || stack.stack_status === 'DELETE_COMPLETE') return { existed: false, stackId: stack?.id };
        if (stack.stack_status !== 'DELETE_IN_PROGRESS') await os.orchestration.deleteStack(input.stackName, stack.id, { ignoreNotFound: true, signal });
        return { existed: true, stackId: stack.id };
      });
    },
  };
}
