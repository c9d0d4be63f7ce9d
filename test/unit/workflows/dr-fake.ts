/**
 * The world drVm acts on, faked in memory for the time-skipping tests: one VM with its home stack
 * in the base cloud (OpenStack), a standby there and one in the backup cloud (CloudStack), and
 * every activity drVm (and the VM owner, and a re-protecting backup) calls, as plain functions.
 * Knobs (`baseHealthy`, `copyStates`, `fail`, `hold`) change what the clouds answer; `events` and
 * `calls` record what the workflow did, each at the skipped time Temporal scheduled it.
 *
 * The VM lease is the real one: requestVmLease signals-with-start the real vmOwner workflow on the
 * test's task queue (as activities/owner.ts does), and the owner grants by signal.
 */
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { DrPlan } from '../../../activities/dr-store';
import type { BackupPlan } from '../../../activities/backup-store';
import { DR_STATUS_QUERY, DR_WORKFLOW, drWorkflowId, type DrEvent, type DrSettings, type DrStatus } from '../../../src/contracts/dr';
import { OWNER_SIGNALS, VM_OWNER_WORKFLOW, vmOwnerWorkflowId, type LeaseRequest, type VmOwnerInput } from '../../../src/contracts/owner';
import type { VmPlacement } from '../../../src/contracts/vm';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { uniqueId, withWorkflowWorker } from '../../harness/time-skipping';

export const T0 = '2026-01-01T00:00:00.000Z';
export const OS_ACCOUNT = 'os-acct';
export const CS_ACCOUNT = 'cs-acct';

export interface Call {
  name: string;
  input: unknown;
  /** Skipped time (ms) at which this attempt was scheduled. */
  at: number;
  attempt: number;
}

/** Answer of a failing activity: an error to throw now, or undefined to run normally. */
type Failer = (call: Call) => Error | undefined;

export class FakeDrWorld {
  readonly vmId = uniqueId('vm');
  readonly ownerId = 'owner-1';
  baseHealthy = true;
  /** What CloudStack says of a copy (csLiveCopyState): by CloudStack VM id, Running when not set. */
  readonly copyStates: Record<string, string> = {};
  readonly fail: Record<string, Failer> = {};
  /** Activities that wait (real time) until released: name → release. */
  readonly held = new Map<string, { release: () => void; entered: boolean }>();
  readonly events: DrEvent[] = [];
  readonly calls: Call[] = [];
  /** The states drVm wrote for readers (recordDrState), in order; null where it removed its record. */
  readonly recorded: ({ status: DrStatus; since: string } | null)[] = [];
  plan: DrPlan;

  constructor() {
    this.plan = {
      vmId: this.vmId,
      ownerId: this.ownerId,
      state: 'active',
      placement: { cloud: 'openstack', accountId: OS_ACCOUNT, serverId: 'srv-1', stackId: 'stack-1', stackName: `vmflow-${this.vmId}`, status: 'ACTIVE', addresses: [] },
      homeAccountId: OS_ACCOUNT,
      baseStandby: { accountId: OS_ACCOUNT, serverId: 'os-standby-1', backupId: 'b1', backupStartedAt: T0 },
      backupCloudStandby: { accountId: CS_ACCOUNT, csVmId: 'cs-standby-1', backupId: 'b1', backupStartedAt: T0, templateId: 'tpl-b1' },
      latestImage: { backupId: 'b1', imageId: 'img-b1', startedAt: T0, templateId: 'tpl-b1', templateAccountId: CS_ACCOUNT },
    };
  }

  callsOf(name: string): Call[] {
    return this.calls.filter((c) => c.name === name);
  }
  eventKinds(): string[] {
    return this.events.map((e) => e.kind);
  }

  /** Makes `name` wait until the returned function is called (or 20 s of real time pass); release it before the worker stops. */
  hold(name: string): () => void {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const entry = { release, entered: false, gate };
    // (entered: the activity has been called and waits)
    this.held.set(name, entry);
    return () => {
      this.held.delete(name);
      release();
    };
  }

  /**
   * Ends this VM's drVm and owner (a test calls it last, while its worker still runs). One server
   * serves the whole run: a workflow left waiting on a stopped worker's queue must not keep timers
   * or activities pending into the next test.
   */
  async stop(client: Client): Promise<void> {
    for (const id of [drWorkflowId(this.vmId), vmOwnerWorkflowId(this.vmId)]) {
      await client.workflow
        .getHandle(id)
        .terminate('test done')
        .catch(() => undefined);
    }
  }

  /** The activities drVm, the VM owner and a backup call, with this world behind them. */
  activities(client: Client): Record<string, (input: never) => Promise<unknown>> {
    return worldActivities(this, client);
  }
}

function worldActivities(w: FakeDrWorld, client: Client): Record<string, (input: never) => Promise<unknown>> {
  const csCopy = (csVmId: string, state: string): { csVmId: string; state: string; addresses: VmPlacement['addresses'] } => ({ csVmId, state, addresses: [{ network: 'default', addr: '10.1.0.9', version: 4, type: 'fixed' }] });
  const impl: Record<string, (input: never) => unknown> = {
    // --- vmflow's own records
    recordDrEvent: (ev: DrEvent) => {
      w.events.push(ev);
      return { deliver: false };
    },
    drPlan: () => structuredClone(w.plan),
    recordDrState: (i: { status: DrStatus; since: string }) => {
      w.recorded.push({ status: i.status, since: i.since });
    },
    removeDrState: () => {
      w.recorded.push(null);
    },
    setVmState: (i: { to: string; placement?: VmPlacement }) => {
      w.plan.state = i.to;
      if (i.placement) w.plan.placement = i.placement;
    },
    promoteStandby: (i: { target: string }) => {
      if (i.target === 'backup-cloud') delete w.plan.backupCloudStandby;
      else delete w.plan.baseStandby;
    },
    recordFailbackImage: () => undefined,
    backupPlan: (): Partial<BackupPlan> => ({ ok: false, reason: 'backups are not part of this test', serviceOfferingName: 'small', accountId: OS_ACCOUNT, serverId: w.plan.placement?.serverId ?? '' }),
    // --- the VM owner (real workflow, lease by signal)
    requestVmLease: async (i: { vmId: string; request: LeaseRequest }) => {
      await client.workflow.signalWithStart(VM_OWNER_WORKFLOW, {
        workflowId: vmOwnerWorkflowId(i.vmId),
        taskQueue: Context.current().info.taskQueue,
        args: [{ vmId: i.vmId } satisfies VmOwnerInput],
        signal: OWNER_SIGNALS.request,
        signalArgs: [i.request],
      });
    },
    workflowIsOpen: async (i: { workflowId: string; runId: string }) => (await client.workflow.getHandle(i.workflowId, i.runId).describe()).status.name === 'RUNNING',
    // --- base cloud (OpenStack)
    baseCloudHealth: () => ({ healthy: w.baseHealthy, detail: w.baseHealthy ? 'ok' : 'Keystone: connection refused' }),
    osFenceServer: () => (w.baseHealthy ? { fenced: true, reason: 'stopped', status: 'SHUTOFF' } : { fenced: false, reason: 'the base cloud does not answer' }),
    osStartServerAndWait: (i: { serverId: string }) => ({ serverId: i.serverId, status: 'ACTIVE', addresses: [] }),
    osMoveFloatingIp: () => ({ moved: true }),
    osReadServerById: (i: { accountId: string; serverId: string }): VmPlacement => ({ cloud: 'openstack', accountId: i.accountId, serverId: i.serverId, status: 'ACTIVE', addresses: [] }),
    osFindStack: () => ({ stackId: 'stack-1' }),
    osUpdateStack: () => undefined,
    osAwaitStack: () => ({ status: 'UPDATE_COMPLETE' }),
    osReadServer: (): VmPlacement => ({ cloud: 'openstack', accountId: OS_ACCOUNT, serverId: `srv-home-${w.callsOf('osReadServer').length}`, stackId: 'stack-1', stackName: `vmflow-${w.vmId}`, status: 'ACTIVE', addresses: [] }),
    osDeleteServer: () => ({ existed: true }),
    glanceImportFromStore: () => ({ imageId: 'img-failback', size: 1, checksum: 'c', created: true }),
    // --- backup cloud (CloudStack) and the image store
    csStartVmAndWait: (i: { csVmId: string }) => {
      w.copyStates[i.csVmId] = 'Running';
      return csCopy(i.csVmId, 'Running');
    },
    csLiveCopyState: (i: { csVmId: string }) => ({ state: w.copyStates[i.csVmId] ?? 'Running' }),
    csEnsureStandby: (i: { name: string }) => ({ csVmId: `cs-${i.name}`, created: true, replaced: false }),
    csDestroyStandby: () => ({ existed: true }),
    csStopVmAndWait: () => ({ state: 'Stopped' }),
    csTemplateFromVm: () => ({ templateId: 'tpl-failback', created: true, extractable: true, physicalSize: 1 }),
    csExtractTemplateUrl: () => ({ url: 'http://127.0.0.1:1/extract', physicalSize: 1 }),
    copyUrlToStore: () => ({ key: 'k', size: 1, sha256: 's', md5: 'm' }),
    csDeleteTemplate: () => ({ existed: true }),
    storeDeleteImage: () => undefined,
  };
  return Object.fromEntries(
    Object.entries(impl).map(([name, fn]) => [
      name,
      async (input: never) => {
        const info = Context.current().info;
        const call: Call = { name, input, at: info.currentAttemptScheduledTimestampMs, attempt: info.attempt };
        w.calls.push(call);
        const held = w.held.get(name) as { gate?: Promise<void>; entered: boolean } | undefined;
        if (held?.gate) {
          held.entered = true;
          await Promise.race([held.gate, new Promise((r) => setTimeout(r, 20_000))]);
        }
        const err = w.fail[name]?.(call);
        if (err) throw err;
        return fn(input);
      },
    ]),
  );
}

/** A failure drVm's retry policies do not retry (each attempt of the step fails once). */
export const hardFailure = (message: string, type = 'AsyncJobFailed'): Error => ApplicationFailure.nonRetryable(message, type);

export interface StartedDr {
  status(): Promise<DrStatus>;
  handle: ReturnType<Client['workflow']['getHandle']>;
}

/** Starts drVm for the world's VM (health checked every `healthCheckSeconds` while failed over). */
export async function startDr(client: Client, taskQueue: string, w: FakeDrWorld, settings: DrSettings, healthCheckSeconds = 30): Promise<StartedDr> {
  const handle = await client.workflow.start(DR_WORKFLOW, {
    taskQueue,
    workflowId: drWorkflowId(w.vmId),
    args: [{ vmId: w.vmId, ownerId: w.ownerId, settings, healthCheckSeconds }],
  });
  return { handle, status: () => handle.query<DrStatus>(DR_STATUS_QUERY) };
}

/** What the monitor sends when the base cloud changes health (observedAt: now in skipped time). */
export const cloudSignal = (healthy: boolean, nowMs: number, detail = healthy ? 'ok' : 'Nova: HTTP 503') => ({
  accountId: OS_ACCOUNT,
  healthy,
  detail,
  observedAt: new Date(nowMs).toISOString(),
  ...(healthy ? {} : { firstFailedAt: new Date(nowMs - 90_000).toISOString() }),
});

/**
 * Runs `body` with a worker serving this world's activities, and ends the VM's drVm and owner
 * afterwards whatever happened: a workflow whose timers fire with no worker left to run them
 * stops the server's clock (an outstanding workflow task locks time skipping) for the next test.
 */
export function withDrWorker<T>(env: TestWorkflowEnvironment, w: FakeDrWorld, body: (taskQueue: string) => Promise<T>): Promise<T> {
  return withWorkflowWorker(env, w.activities(env.client), async (taskQueue) => {
    try {
      return await body(taskQueue);
    } finally {
      await w.stop(env.client);
    }
  });
}
