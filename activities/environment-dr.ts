/**
 * Activities of an environment's recovery plan (workflows/environment-dr.ts): the members' DR
 * states as their drVm workflows recorded them (one query for all members, never a workflow
 * query per poll), a member's failback approved through its drVm's own update, a member's service
 * checked where it runs now, and the plan's and drills' records for readers.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { DR_SIGNALS, approveFailbackUpdate, drWorkflowId, type CloudHealthSignal, type DrState, type FailoverTarget } from '../src/contracts/dr';
import type { EnvironmentDrStatus, EnvironmentDrillReport } from '../src/contracts/environment-dr';
import { drStateModel } from '../src/dr/model';
import { GUEST_CHECK_DEFAULTS, guestAddressRefusal, mapGuestAddress, parseGuestAddressMap, type GuestHealthCheck } from '../src/dr/guest-checks';
import { environmentDrModel, environmentDrillModel, stopEnvironmentPlan } from '../src/environments/dr-model';
import { vmModel } from '../src/vms/model';
import { whileBusy } from '../src/db/connection';
import type { ActivityDeps } from './deps';
import { cloudAccounts } from './cloud-helpers';
import { checkGuest } from './guest-probe';

/** A member's DR state as its drVm last recorded it (absent: not protected, or nothing recorded yet). */
export interface MemberDrState {
  vmId: string;
  state: DrState;
  target?: FailoverTarget;
  awaitingApproval: boolean;
  baseCloudHealthy: boolean;
  /** When `state` last changed (ISO). */
  since: string;
  /** Its failover or failback gave up: only a command moves it now. */
  gaveUp: boolean;
  lastError?: string;
}

export function createEnvironmentDrActivities(deps: ActivityDeps) {
  const log = deps.logger.child({ component: 'environment-dr' });
  const guestMap = parseGuestAddressMap(deps.guestAddressMap);
  return {
    /** The recorded DR states of the given VMs (one read). */
    async environmentMemberDrStates(input: { vmIds: string[] }): Promise<MemberDrState[]> {
      const docs = await drStateModel(deps.db).find({ _id: { $in: input.vmIds } }).lean();
      return docs.map((d) => ({
        vmId: d._id,
        state: d.status.state,
        ...(d.status.target ? { target: d.status.target } : {}),
        awaitingApproval: !!d.status.awaitingApproval,
        baseCloudHealthy: d.status.baseCloudHealthy,
        since: new Date(d.since).toISOString(),
        gaveUp: !!(d.status.failoverRetry?.gaveUp || d.status.failbackRetry?.gaveUp),
        ...(d.status.lastError ? { lastError: d.status.lastError } : {}),
      }));
    },

    /**
     * Tells members' drVm workflows the cloud's verdict (the signal the monitor's fan-out sends a
     * single VM), in parallel; those whose DR workflow is not running are named, not an error.
     */
    /** The destroy graph, once nothing is left to preserve: the environment's recovery plan ends (idempotent). */
    async stopEnvironmentPlan(input: { envId: string }): Promise<void> {
      if (!deps.temporalClient) throw ApplicationFailure.nonRetryable('the worker has no Temporal client configured', 'Misconfigured');
      await stopEnvironmentPlan(deps.db, deps.temporalClient, input.envId);
    },

    async signalMembersCloudHealth(input: { vmIds: string[]; signal: CloudHealthSignal }): Promise<{ told: string[]; notRunning: string[] }> {
      const client = deps.temporalClient;
      if (!client) throw ApplicationFailure.nonRetryable('the worker has no Temporal client configured', 'Misconfigured');
      const results = await Promise.allSettled(input.vmIds.map((vmId) => client.workflow.getHandle(drWorkflowId(vmId)).signal(DR_SIGNALS.cloudHealth, input.signal)));
      const told: string[] = [];
      const notRunning: string[] = [];
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') told.push(input.vmIds[i]);
        else if (r.reason instanceof WorkflowNotFoundError) notRunning.push(input.vmIds[i]);
        else throw r.reason;
      });
      return { told, notRunning };
    },

    /**
     * Approves the failback a member's drVm waits for (its own update, whose validator refuses when
     * nothing waits): `approved: false` with the reason, never an error, so the plan polls on.
     */
    async approveMemberFailback(input: { vmId: string }): Promise<{ approved: boolean; reason?: string }> {
      const client = deps.temporalClient;
      if (!client) throw ApplicationFailure.nonRetryable('the worker has no Temporal client configured', 'Misconfigured');
      try {
        const info = Context.current().info;
        // One id per call (an activity retry repeats it): an approval admitted by a lost attempt is not run twice.
        await client.workflow.getHandle(drWorkflowId(input.vmId)).executeUpdate(approveFailbackUpdate, { updateId: `env-approve:${input.vmId}:${info.workflowExecution?.runId ?? ''}:${info.activityId}` });
        return { approved: true };
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError) return { approved: false, reason: (err.cause as Error | undefined)?.message ?? err.message };
        if (err instanceof WorkflowNotFoundError) return { approved: false, reason: 'the member is not protected' };
        throw err;
      }
    },

    /**
     * One check of a member's service where it runs now (its placement's first address, mapped as
     * the monitor maps guest addresses); never throws for the check's own outcome.
     */
    async checkMemberGuest(input: { vmId: string; check: GuestHealthCheck }): Promise<{ ok: boolean; detail: string }> {
      const vm = await vmModel(deps.db).findById(input.vmId, { placement: 1 }).lean();
      const address = vm?.placement?.addresses?.find((a) => a.version !== 6)?.addr ?? vm?.placement?.addresses?.[0]?.addr;
      if (!vm?.placement || !address) return { ok: false, detail: 'the member has no address yet' };
      const kind = vm.placement.cloud;
      let scope: 'operator' | 'user' = 'user';
      try {
        scope = (await cloudAccounts(deps).credentials(vm.placement.accountId, kind)).scope;
      } catch {
        // an account that cannot be read: held to the member's rules
      }
      const refusal = guestAddressRefusal(address, scope, cloudAccounts(deps).outbound.allowList);
      if (refusal) return { ok: false, detail: `not checked: ${refusal}` };
      const host = mapGuestAddress(address, guestMap);
      if (!host) return { ok: false, detail: `not checked: ${address} is not covered by the guest address map` };
      const c = input.check;
      const r = await checkGuest(
        { vmId: input.vmId, protocol: c.protocol, host, port: c.port, ...(c.protocol === 'tcp' ? {} : { path: c.path ?? GUEST_CHECK_DEFAULTS.path }), timeoutMs: (c.timeoutSeconds ?? GUEST_CHECK_DEFAULTS.timeoutSeconds) * 1000 },
        Context.current().cancellationSignal,
      );
      return { ok: r.ok, detail: r.detail };
    },

    /**
     * environmentDr's status for readers (nothing is written once the protection's record is gone).
     * Without its waves: FerretDB stores no nested arrays, and readers compute them from the members.
     */
    async recordEnvironmentDr(input: { envId: string; status: EnvironmentDrStatus }): Promise<void> {
      const { waves: _waves, ...status } = input.status;
      await whileBusy(() => environmentDrModel(deps.db).updateOne({ _id: input.envId }, { $set: { status: JSON.parse(JSON.stringify(status)) as unknown } }));
    },

    /** An environment drill's report, written as it goes (the last write is the final report). */
    async recordEnvironmentDrill(input: EnvironmentDrillReport & { ownerId: string }): Promise<void> {
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? 'unknown';
      const { drillId, ...rest } = input;
      await whileBusy(() => environmentDrillModel(deps.db).replaceOne({ _id: drillId }, { _id: drillId, ...(JSON.parse(JSON.stringify(rest)) as object), workflowId }, { upsert: true }));
      if (input.finishedAt) log.info({ envId: input.envId, drillId, ok: input.ok, cleanedUp: input.cleanedUp }, 'environment drill finished');
    },
  };
}
