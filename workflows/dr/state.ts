/**
 * drVm's state and the messages that change it: what a run carries to the next (continue-as-new),
 * the commands waiting for the main loop, the signal/query/update handlers, and event recording.
 * Handlers only record what arrived (and refuse what cannot be done now); the main loop in
 * workflows/dr.ts acts on it. Every phase module receives the run (`DrRun`) this builds.
 */
import { CancellationScope, ParentClosePolicy, defineQuery, defineSignal, patched, setHandler, startChild, uuid4 } from '@temporalio/workflow';
import {
  DELIVER_ALERT_WORKFLOW,
  DR_SIGNALS,
  DR_STATUS_QUERY,
  approveFailbackUpdate,
  failbackUpdate,
  failoverUpdate,
  alertWorkflowId,
  type CloudHealthSignal,
  type DrEventKind,
  type DrSettings,
  type DrStartInput,
  type DrStatus,
  type FailoverTarget,
  type VmHealthSignal,
  type DrLeftoverSignal,
} from '../../src/contracts/dr';
import { progressWrite, store } from '../lib/activity-presets';

export const vmHealthSignal = defineSignal<[VmHealthSignal]>(DR_SIGNALS.vmHealth);
export const cloudHealthSignal = defineSignal<[CloudHealthSignal]>(DR_SIGNALS.cloudHealth);
export const stopProtectionSignal = defineSignal(DR_SIGNALS.stop);
export const drSettingsSignal = defineSignal<[Partial<DrSettings>]>(DR_SIGNALS.settings);
export const leftoverSignal = defineSignal<[DrLeftoverSignal]>(DR_SIGNALS.leftover);
export const drStatusQuery = defineQuery<DrStatus>(DR_STATUS_QUERY);

/** Where the VM lived in the base cloud before a failover: failback brings it back there. */
export interface Home {
  accountId: string;
  serverId: string;
  stackId?: string;
  stackName?: string;
}

export interface Pending {
  /** `retry`: a later try of a failed failover (its disaster was told already: no new events until it ends). */
  failover?: { target?: FailoverTarget; reason: string; firstFailedAt: string; kind: 'disaster.vm' | 'disaster.cloud' | 'manual'; retry?: boolean };
  failback?: { manual: boolean };
}
export type PendingFailover = NonNullable<Pending['failover']>;

/** Something a finished switch left behind, removed on a later tick unless it is in use again. */
export type Leftover = { kind: 'os-server'; accountId: string; id: string } | { kind: 'cs-vm'; accountId: string; id: string } | { kind: 'cs-template'; accountId: string; id: string } | { kind: 'store-object'; id: string };

/**
 * The state a run carries to the next: the status the query shows, plus
 * - `cloudSignalAt`: observedAt of the newest cloud-health signal applied (older ones arriving late are ignored);
 * - `deferredVmDisaster`: a server reported broken while the VM was between states (failing back,
 *   recovering a lost copy), when the report cannot act; judged once the VM is Protected again;
 * - `leftovers`: what finished switches left behind, removed on later ticks.
 */
export type Carried = DrStatus & { home?: Home; cloudSignalAt?: string; deferredVmDisaster?: VmHealthSignal & { serverId: string }; leftovers?: Leftover[]; stateSince?: string };

export type DrInput = DrStartInput & {
  carried?: Carried;
  healthCheckSeconds?: number;
  /** A failback command the last run accepted and had not run when it continued as new. */
  failbackCommand?: Pending['failback'];
};

const MAX_RECENT_EVENTS = 20;
/** Runs recorded before late cloud-health signals were ignored replay the old way. */
const CLOUD_SIGNAL_ORDER_PATCH = 'cloud-signal-order';
/**
 * Runs recorded before drVm wrote its status for readers (DrStateRecord, src/dr/model.ts) replay
 * without those local activities; readers of such a run fall back to the drStatus query.
 */
const DR_STATE_RECORD_PATCH = 'dr-state-on-record';

/** One run of drVm: its input, its state, and what its handlers have received. */
export interface DrRun {
  readonly input: DrInput;
  /** The carried state (every phase reads and writes it). */
  readonly s: Carried;
  /** Commands and disasters the main loop has yet to act on. */
  readonly pending: Pending;
  stopped: boolean;
  /** An approval accepted before continue-as-new still counts (runs before it was carried passed none). */
  approved: boolean;
  /** Checks in a row that found the live CloudStack copy not running (not carried: a restart re-counts). */
  liveCopyBad: number;
  liveCopyUnreachable: number;
  /** Failed tries in a row at removing leftovers (only to log the start of a streak). */
  leftoverFailures: number;
  /** Another workflow handed a leftover over (drLeftover): the loop wakes to remove it. */
  leftoverArrived: boolean;
  readonly healthCheckMs: number;
  now(): string;
  touch(): void;
  status(): DrStatus;
  /** Resolves when the status so far has been written for readers (at once for runs that write none). */
  flushRecord(): Promise<void>;
  /** Protection stopped: the readers' record is removed (after the writes before it). */
  removeRecord(): Promise<void>;
  /** Records a DR event (and starts its alert delivery when the owner wants one). */
  event(kind: DrEventKind, message: string, extra?: { rpoSeconds?: number; rtoSeconds?: number; details?: Record<string, unknown> }): Promise<void>;
}

/** The run's state, from the last run's or a fresh one, with every handler registered. */
export function openDrRun(input: DrInput): DrRun {
  const now = () => new Date().toISOString();
  const carried: Carried = input.carried ?? {
    vmId: input.vmId,
    state: 'Protected',
    settings: input.settings,
    baseCloudHealthy: true,
    vmHealthy: true,
    awaitingApproval: false,
    recentEvents: [],
    updatedAt: now(),
  };
  const recorder = patched(DR_STATE_RECORD_PATCH) ? stateRecorder(input, carried, () => status()) : undefined;
  // Every assignment to the state (handlers and phases alike) reaches the recorder: no transition
  // can be missed by a phase that forgets to say so. Runs without the patch keep the plain object.
  const s: Carried = recorder ? recorder.watch(carried) : carried;
  const pending: Pending = input.failbackCommand ? { failback: input.failbackCommand } : {};
  const touch = () => (s.updatedAt = now());
  const status = (): DrStatus => {
    const { home: _home, cloudSignalAt: _cloudSignalAt, deferredVmDisaster: _deferred, leftovers: _leftovers, stateSince: _stateSince, ...rest } = s;
    return { ...rest, recentEvents: [...s.recentEvents] };
  };

  async function event(kind: DrEventKind, message: string, extra: { rpoSeconds?: number; rtoSeconds?: number; details?: Record<string, unknown> } = {}): Promise<void> {
    const id = uuid4();
    const at = now();
    s.recentEvents = [...s.recentEvents, { at, kind, message }].slice(-MAX_RECENT_EVENTS);
    touch();
    const { deliver } = await store.recordDrEvent({ id, ownerId: input.ownerId, vmId: input.vmId, kind, message, at, ...extra });
    if (deliver) {
      // Delivery retries on its own; this workflow only waits for the child to start.
      await startChild(DELIVER_ALERT_WORKFLOW, { workflowId: alertWorkflowId(id), args: [{ eventId: id }], parentClosePolicy: ParentClosePolicy.ABANDON });
    }
  }

  const run: DrRun = {
    input,
    s,
    pending,
    stopped: false,
    approved: input.approvedFailback ?? false,
    liveCopyBad: 0,
    liveCopyUnreachable: 0,
    leftoverFailures: 0,
    leftoverArrived: false,
    healthCheckMs: Math.max(1, input.healthCheckSeconds ?? 30) * 1000,
    now,
    touch,
    status,
    flushRecord: () => recorder?.flush() ?? Promise.resolve(),
    removeRecord: () => recorder?.remove() ?? Promise.resolve(),
    event,
  };

  setHandler(drStatusQuery, status);
  setHandler(stopProtectionSignal, () => {
    run.stopped = true;
  });
  setHandler(drSettingsSignal, (patch) => {
    s.settings = { ...s.settings, ...patch };
    touch();
  });
  setHandler(leftoverSignal, (l) => {
    if (s.leftovers?.some((x) => x.kind === l.kind && x.id === l.id)) return;
    s.leftovers = [...(s.leftovers ?? []), { kind: l.kind, accountId: l.accountId, id: l.id }];
    run.leftoverArrived = true;
    touch();
  });
  setHandler(vmHealthSignal, (sig) => {
    s.vmHealthy = sig.healthy;
    touch();
    if (!sig.healthy && (s.state === 'Protected' || s.state === 'Degraded') && !pending.failover) {
      s.state = 'Degraded';
      pending.failover = { reason: `server ${sig.status}`, firstFailedAt: sig.firstFailedAt ?? sig.observedAt, kind: 'disaster.vm' };
    } else if (!sig.healthy && sig.serverId && !pending.failover) {
      // Busy (failing back, recovering a lost copy): the monitor reports once, so keep it for later.
      s.deferredVmDisaster = { ...sig, serverId: sig.serverId };
    }
    if (sig.healthy) s.deferredVmDisaster = undefined;
  });
  setHandler(cloudHealthSignal, (sig) => {
    // The monitor's fan-out is an activity: a retry can deliver an older verdict after a newer one
    // (an "unhealthy" after the "healthy" that followed it), which would fail a healthy VM over and
    // leave the base cloud down here for good. Only newer verdicts apply.
    if (s.cloudSignalAt && sig.observedAt <= s.cloudSignalAt && patched(CLOUD_SIGNAL_ORDER_PATCH)) return;
    s.cloudSignalAt = sig.observedAt;
    const was = s.baseCloudHealthy;
    s.baseCloudHealthy = sig.healthy;
    if (sig.healthy && !was) s.baseHealthySince = sig.observedAt;
    if (!sig.healthy) s.baseHealthySince = undefined;
    touch();
    if (!sig.healthy && (s.state === 'Protected' || s.state === 'Degraded') && (!pending.failover || pending.failover.kind === 'disaster.vm')) {
      s.state = 'Degraded';
      pending.failover = { target: 'backup-cloud', reason: `base cloud down: ${sig.detail}`, firstFailedAt: sig.firstFailedAt ?? sig.observedAt, kind: 'disaster.cloud' };
    }
  });
  setHandler(
    failoverUpdate,
    (req) => {
      s.state = 'Degraded';
      pending.failover = { target: req.target, reason: req.reason ?? 'requested by the owner', firstFailedAt: now(), kind: 'manual' };
      touch();
      return status();
    },
    {
      validator: (req) => {
        if (s.state !== 'Protected' && s.state !== 'Degraded') throw new Error(`cannot fail over while ${s.state}${s.target ? ` (${s.target})` : ''}`);
        if (pending.failover) throw new Error('a failover is already under way');
        if (req.target !== undefined && req.target !== 'base-standby' && req.target !== 'backup-cloud') throw new Error('target must be base-standby or backup-cloud');
      },
    },
  );
  setHandler(
    failbackUpdate,
    () => {
      pending.failback = { manual: true };
      // A command from the owner starts a fresh series of attempts.
      if (s.failbackRetry) s.failbackRetry = { ...s.failbackRetry, gaveUp: false, nextAttemptAt: undefined };
      touch();
      return status();
    },
    {
      validator: () => {
        if (s.state !== 'FailedOver' || s.target !== 'backup-cloud') throw new Error(`cannot fail back unless failed over to the backup cloud (state ${s.state}${s.target ? `, ${s.target}` : ''})`);
        if (!s.baseCloudHealthy) throw new Error('the base cloud is not healthy yet');
      },
    },
  );
  setHandler(
    approveFailbackUpdate,
    () => {
      run.approved = true;
      touch();
      return status();
    },
    {
      validator: () => {
        if (!s.awaitingApproval) throw new Error('no failback is waiting for approval');
      },
    },
  );
  return run;
}

/**
 * Writes drVm's status for readers (GET …/dr, the VM list's DR summary) whenever it changes: every
 * assignment to the carried state schedules one check after the current synchronous step (so a
 * handler's several assignments make one write), and a status equal to the last one written
 * (updatedAt aside) writes nothing. Writes are local activities chained in order, never
 * cancelled, and never failing the workflow: a lost write is only a stale state for readers.
 */
function stateRecorder(input: DrInput, raw: Carried, status: () => DrStatus) {
  raw.stateSince ??= raw.updatedAt;
  let lastWritten = '';
  let scheduled = false;
  let written: Promise<void> = Promise.resolve();
  const chain = (write: () => Promise<unknown>) => {
    written = written.then(() => CancellationScope.nonCancellable(write)).then(
      () => undefined,
      () => undefined,
    );
  };
  const check = () => {
    scheduled = false;
    const st = status();
    const key = JSON.stringify({ ...st, updatedAt: undefined, since: raw.stateSince });
    if (key === lastWritten) return;
    lastWritten = key;
    const since = raw.stateSince ?? st.updatedAt;
    chain(() => progressWrite.recordDrState({ vmId: input.vmId, ownerId: input.ownerId, status: st, since }));
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    void Promise.resolve().then(check);
  };
  schedule();
  return {
    watch(target: Carried): Carried {
      return new Proxy(target, {
        set(t, prop, value: unknown) {
          if (prop === 'state' && value !== t.state) t.stateSince = new Date().toISOString();
          Reflect.set(t, prop, value);
          schedule();
          return true;
        },
        deleteProperty(t, prop) {
          Reflect.deleteProperty(t, prop);
          schedule();
          return true;
        },
      });
    },
    flush(): Promise<void> {
      if (scheduled) check();
      return written;
    },
    remove(): Promise<void> {
      if (scheduled) check();
      chain(() => progressWrite.removeDrState({ vmId: input.vmId }));
      return written;
    },
  };
}
