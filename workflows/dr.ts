/**
 * drVm — the disaster-recovery entity workflow of one protected VM (UC-009), ID `vm-dr:<vmId>`.
 *
 *   Protected ─(VM or base cloud unhealthy)─▶ Degraded ─▶ FailingOver ─▶ FailedOver(target)
 *       ▲                                                                      │
 *       └──────── FailingBack ◀─(base healthy long enough, [approval])─────────┘   (backup-cloud)
 *       └──────── (fresh backup re-protects) ◀─────────────────────────────────┘   (base-standby)
 *
 * Health arrives as signals from the per-cloud monitor (thresholds already applied there), and
 * while failed over to the backup cloud this workflow also checks the base cloud itself. Manual
 * commands are updates with validators (a failback is refused unless failed over). Every
 * disaster, failover, failback and fence becomes an event; alerts are delivered by a child
 * workflow that never blocks this one. RPO = age of the backup the failover used; RTO = first
 * failed check → switch complete.
 */
import {
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  executeChild,
  log,
  patched,
  setHandler,
  startChild,
  uuid4,
  workflowInfo,
  CancellationScope,
  ActivityFailure,
  ApplicationFailure,
} from '@temporalio/workflow';
import { BACKUP_WORKFLOW, RESTORE_WORKFLOW, standbyName, type BackupInput, type RestoreInput } from '../src/contracts/backup';
import {
  DELIVER_ALERT_WORKFLOW,
  DR_SIGNALS,
  DR_STATUS_QUERY,
  approveFailbackUpdate,
  failbackUpdate,
  failoverUpdate,
  alertWorkflowId,
  failbackImageName,
  failbackStoreKey,
  failbackTemplateName,
  type CloudHealthSignal,
  type DrEventKind,
  type DrSettings,
  type DrStartInput,
  type DrStatus,
  type FailoverTarget,
  type VmHealthSignal,
} from '../src/contracts/dr';
import type { DrPlan } from '../activities/dr-store';
import type { VmPlacement } from '../src/contracts/vm';
import { describeError, failureTypeOf, runTaskGraph, type TaskSpec } from './lib/task-graph';
import { cleanupCall, failbackBaseCall, failbackBaseTransfer, failoverCall, fenceCall, longTransfer, probe, recoveryPoll, statusPoll, store } from './lib/activity-presets';
import { ownerAware, withVmLease, type Lease } from './lib/ownership';

export const vmHealthSignal = defineSignal<[VmHealthSignal]>(DR_SIGNALS.vmHealth);
export const cloudHealthSignal = defineSignal<[CloudHealthSignal]>(DR_SIGNALS.cloudHealth);
export const stopProtectionSignal = defineSignal(DR_SIGNALS.stop);
export const drSettingsSignal = defineSignal<[Partial<DrSettings>]>(DR_SIGNALS.settings);
export const drStatusQuery = defineQuery<DrStatus>(DR_STATUS_QUERY);

/** Where the VM lived in the base cloud before a failover: failback brings it back there. */
interface Home {
  accountId: string;
  serverId: string;
  stackId?: string;
  stackName?: string;
}

interface Pending {
  /** `retry`: a later try of a failed failover (its disaster was told already: no new events until it ends). */
  failover?: { target?: FailoverTarget; reason: string; firstFailedAt: string; kind: 'disaster.vm' | 'disaster.cloud' | 'manual'; retry?: boolean };
  failback?: { manual: boolean };
}

/** `cloudSignalAt`: observedAt of the newest cloud-health signal applied (older ones arriving late are ignored). */
/**
 * `deferredVmDisaster`: a server reported broken while the VM was between states (failing back,
 * recovering a lost copy), when the report cannot act; judged once the VM is Protected again.
 */
/** Something a finished switch left behind, removed on a later tick unless it is in use again. */
type Leftover = { kind: 'os-server'; accountId: string; id: string } | { kind: 'cs-vm'; accountId: string; id: string } | { kind: 'cs-template'; accountId: string; id: string } | { kind: 'store-object'; id: string };
type Carried = DrStatus & { home?: Home; cloudSignalAt?: string; deferredVmDisaster?: VmHealthSignal & { serverId: string }; leftovers?: Leftover[] };

const MAX_RECENT_EVENTS = 20;
/** Failback retries: 1 min, 2, 4, 8 … at most 30 min apart; after this many failures a command is needed. */
const FAILBACK_RETRY_FIRST_MS = 60_000;
const FAILBACK_RETRY_MAX_MS = 30 * 60_000;
const FAILBACK_MAX_FAILURES = 6;
/** Failover retries after a disaster: 15 s, 30, 60 … at most 10 min apart; after this many failures a command is needed. */
const FAILOVER_RETRY_FIRST_MS = 15_000;
const FAILOVER_RETRY_MAX_MS = 10 * 60_000;
const FAILOVER_MAX_FAILURES = 8;
/** Runs recorded before late cloud-health signals were ignored replay the old way. */
const CLOUD_SIGNAL_ORDER_PATCH = 'cloud-signal-order';
/** Runs recorded before failed failovers were retried replay the old way (Degraded until a signal). */
const FAILOVER_RETRY_PATCH = 'failover-retry';
/** Runs recorded before a failback's base-cloud steps failed fast (CloudStack copy stopped) replay the old way. */
const FAILBACK_FAILS_FAST_PATCH = 'failback-fails-fast';
/** Runs recorded before a broken-server report received while busy was acted on later replay the old way. */
const DEFERRED_VM_DISASTER_PATCH = 'deferred-vm-disaster';
/** Runs recorded before a lost CloudStack standby was rebuilt at failover replay the old way (the failover fails). */
const FAILOVER_REBUILDS_STANDBY_PATCH = 'failover-rebuilds-lost-standby';
/** Runs recorded before a switch's clean-up was left to later ticks (not done before the VM is Protected) replay the old way. */
const CLEANUP_LATER_PATCH = 'cleanup-later';
/** Runs recorded before drVm's idle (Protected) wait woke for a continue-as-new suggestion replay the old way. */
const IDLE_CONTINUE_AS_NEW_PATCH = 'dr-idle-continue-as-new';
/** Runs recorded before a failed failback's template and image were also found by name replay the old way. */
const FAILBACK_DISCARDS_BY_NAME_PATCH = 'failback-discards-by-name';
/** Runs recorded before the recovery path's CloudStack starts were retried at most 10 s apart replay the old way. */
const RECOVERY_POLL_PATCH = 'recovery-poll-fast';
/** The live CloudStack copy is lost after this many checks in a row finding it stopped, in Error or gone… */
const LIVE_COPY_BAD_CHECKS = 2;
/** …or CloudStack not answering about it at all (then only recovered in the base cloud, if that is up). */
const LIVE_COPY_UNREACHABLE_CHECKS = 5;
/** CloudStack states of a copy that is on its way somewhere: not judged. */
const CS_TRANSITIONAL = new Set(['Starting', 'Stopping', 'Migrating', 'Running']);

export async function drVm(input: DrStartInput & { carried?: Carried; healthCheckSeconds?: number }): Promise<void> {
  const now = () => new Date().toISOString();
  const s: Carried = input.carried ?? {
    vmId: input.vmId,
    state: 'Protected',
    settings: input.settings,
    baseCloudHealthy: true,
    vmHealthy: true,
    awaitingApproval: false,
    recentEvents: [],
    updatedAt: now(),
  };
  const pending: Pending = {};
  let stopped = false;
  // An approval accepted before continue-as-new still counts (runs before it was carried passed none).
  let approved = input.approvedFailback ?? false;
  /** Checks in a row that found the live CloudStack copy not running (not carried: a restart re-counts). */
  let liveCopyBad = 0;
  let liveCopyUnreachable = 0;
  /** Failed tries in a row at removing leftovers (only to log the start of a streak). */
  let leftoverFailures = 0;
  const healthCheckMs = Math.max(1, input.healthCheckSeconds ?? 30) * 1000;
  const touch = () => (s.updatedAt = now());
  const status = (): DrStatus => {
    const { home: _home, cloudSignalAt: _cloudSignalAt, deferredVmDisaster: _deferred, leftovers: _leftovers, ...rest } = s;
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

  setHandler(drStatusQuery, status);
  setHandler(stopProtectionSignal, () => {
    stopped = true;
  });
  setHandler(drSettingsSignal, (patch) => {
    s.settings = { ...s.settings, ...patch };
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
      approved = true;
      touch();
      return status();
    },
    {
      validator: () => {
        if (!s.awaitingApproval) throw new Error('no failback is waiting for approval');
      },
    },
  );

  /** Base cloud healthy for long enough, and allowed (automatic, approved or asked for). */
  function failbackDue(): boolean {
    if (s.state !== 'FailedOver' || s.target !== 'backup-cloud' || !s.baseCloudHealthy || !s.baseHealthySince) return false;
    if (pending.failback?.manual) return true;
    // After a failed attempt the next waits its turn; after the last one only a command retries.
    const retry = s.failbackRetry;
    if (retry && (retry.gaveUp || (retry.nextAttemptAt && Date.now() < Date.parse(retry.nextAttemptAt)))) return false;
    const healthyMs = Date.now() - Date.parse(s.baseHealthySince);
    if (healthyMs < s.settings.failbackAfterHealthySeconds * 1000) return false;
    return s.settings.failbackMode === 'automatic' || approved;
  }

  /** A failed failover's cause is gone: the VM (or the base cloud) is healthy again. */
  function failoverCauseCleared(): boolean {
    const cause = s.failoverRetry?.cause;
    if (!cause) return false;
    return cause.kind === 'disaster.vm' ? s.vmHealthy : s.baseCloudHealthy;
  }
  function failoverRetryDue(): boolean {
    const r = s.failoverRetry;
    if (!r || s.state !== 'Degraded' || pending.failover) return false;
    if (failoverCauseCleared()) return true;
    return !r.gaveUp && (!r.nextAttemptAt || Date.now() >= Date.parse(r.nextAttemptAt));
  }

  /** Continue-as-new is safe between operations, in a steady state. */
  const continueAsNewDue = () => workflowInfo().continueAsNewSuggested && !pending.failover && (s.state === 'Protected' || s.state === 'FailedOver');
  // Runs recorded before the idle wait looked at the suggestion replay the old way.
  const continueAsNewWhenIdle = patched(IDLE_CONTINUE_AS_NEW_PATCH);

  while (!stopped) {
    const waitingForBase = s.state === 'FailedOver' && s.target === 'backup-cloud';
    const fenceDue = () => !!s.fencePending && s.baseCloudHealthy;
    // A Protected VM waits without a timeout: the signals that grow its history must also wake it
    // when Temporal suggests continuing as new, or it never does (issue 17).
    const woken = () => stopped || !!pending.failover || failbackDue() || fenceDue() || failoverRetryDue() || (continueAsNewWhenIdle && continueAsNewDue());
    // (failoverRetry is only ever set by runs with the FAILOVER_RETRY_PATCH.)
    if (waitingForBase || s.fencePending || s.failoverRetry || s.leftovers) await condition(woken, healthCheckMs);
    else await condition(woken);
    if (stopped) break;

    if (!pending.failover && failoverRetryDue()) {
      const r = s.failoverRetry!;
      if (failoverCauseCleared()) {
        log.info('the failed failover\'s cause has cleared: protected again', { cause: r.cause.reason });
        s.state = 'Protected';
        s.failoverRetry = undefined;
        s.lastError = undefined;
        touch();
      } else {
        pending.failover = { ...r.cause, retry: true };
      }
    }

    if (pending.failover) {
      await failover(pending.failover);
      pending.failover = undefined;
    } else if (waitingForBase && !failbackDue()) {
      // While failed over, watch the base cloud directly too (few VMs are ever in this state).
      const h = await probe.baseCloudHealth({ accountId: s.home?.accountId ?? '' });
      if (h.healthy && !s.baseCloudHealthy) {
        s.baseCloudHealthy = true;
        s.baseHealthySince = now();
        await event('cloud.recovered', 'the base cloud answers again');
      } else if (!h.healthy) {
        s.baseCloudHealthy = false;
        s.baseHealthySince = undefined;
      }
      // A copy that vanished or broke in the backup cloud is a disaster too (runs older than the owner skip this).
      if (ownerAware()) await watchLiveCopy();
      const due = s.baseCloudHealthy && s.baseHealthySince && Date.now() - Date.parse(s.baseHealthySince) >= s.settings.failbackAfterHealthySeconds * 1000;
      if (due && s.settings.failbackMode === 'approval' && !approved && !s.awaitingApproval && s.state === 'FailedOver' && s.target === 'backup-cloud') {
        s.awaitingApproval = true;
        await event('failback.waiting-approval', 'the base cloud has recovered; failback waits for your approval');
      }
      touch();
    }
    if (fenceDue()) await fence();
    // Also while Degraded (a failover waiting for its retry): a copy left running elsewhere must go
    // as soon as its cloud answers (soak seed 1: a restore home left the CloudStack copy that
    // CloudStack had stopped answering about; the VM then broke, its failover waited for a retry,
    // and that copy ran on beside the placement).
    if (s.leftovers && !pending.failover && (s.state === 'Protected' || s.state === 'FailedOver' || s.state === 'Degraded')) await removeLeftovers();
    if (failbackDue()) {
      await failback();
      pending.failback = undefined;
      approved = false;
    }
    if (s.deferredVmDisaster && s.state === 'Protected' && !pending.failover && patched(DEFERRED_VM_DISASTER_PATCH)) {
      // A server that broke while the VM was busy is a disaster now — if the VM still runs on it
      // (soak seed 5: the home server broke as a lost copy was restored into it; Protected on a
      // server in ERROR, and the monitor, having reported it, said nothing more).
      const d = s.deferredVmDisaster;
      s.deferredVmDisaster = undefined;
      const plan = await store.drPlan({ vmId: input.vmId });
      if (plan.state === 'active' && plan.placement?.cloud === 'openstack' && plan.placement.serverId === d.serverId) {
        s.state = 'Degraded';
        s.vmHealthy = false;
        pending.failover = { reason: `server ${d.status}`, firstFailedAt: d.firstFailedAt ?? d.observedAt, kind: 'disaster.vm' };
        touch();
      }
    }
    if (continueAsNewDue()) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof drVm>({ ...input, carried: s, approvedFailback: approved });
    }
  }

  // ---------------------------------------------------------------------------------------------

  /** The preset a recovery-path start of a CloudStack copy runs with. */
  function recoveryStart(): typeof statusPoll {
    return patched(RECOVERY_POLL_PATCH) ? recoveryPoll : statusPoll;
  }

  async function failover(p: NonNullable<Pending['failover']>): Promise<void> {
    const startedAt = now();
    if (!p.retry) await event(p.kind === 'manual' ? 'failover.started' : p.kind, p.kind === 'manual' ? `failover requested: ${p.reason}` : `disaster detected: ${p.reason}`);
    s.step = 'taking over the VM (a running backup or drill gives way)';
    touch();
    // The lease: nothing else acts on the VM while it fails over; a backup in flight is cancelled.
    // A failover recorded before the VM owner existed replays the old way (fence first).
    const withOwner = ownerAware();
    await withVmLease(input.vmId, 'failover', { useOwner: withOwner }, (lease) => failoverHoldingLease(p, startedAt, lease, withOwner));
  }

  async function failoverHoldingLease(p: NonNullable<Pending['failover']>, startedAt: string, lease: Lease, withOwner: boolean): Promise<void> {
    const plan = await store.drPlan({ vmId: input.vmId });
    if (plan.state === 'deleting' || plan.state === 'deleted') {
      // The owner is deleting the VM (deleteVm stops this workflow): never resurrect it elsewhere.
      s.state = 'Protected';
      s.lastError = `no failover: the VM is ${plan.state}`;
      touch();
      return;
    }
    let target: FailoverTarget = p.target ?? 'base-standby';
    if (!p.target) {
      const h = await probe.baseCloudHealth({ accountId: plan.homeAccountId });
      s.baseCloudHealthy = h.healthy;
      target = h.healthy ? 'base-standby' : 'backup-cloud';
    }
    s.state = 'FailingOver';
    s.step = `failing over to ${target}`;
    touch();
    if (p.kind !== 'manual' && !p.retry) await event('failover.started', `failing over to the ${target === 'base-standby' ? 'standby in the base cloud' : 'backup cloud (CloudStack)'}`);
    const old = plan.placement;
    if (old?.cloud === 'openstack') {
      // A promoted standby has no stack: the VM's home stays the stack it was created in (failback
      // and restore-from-backup boot into it).
      const keepStack = withOwner && !old.stackId && s.home?.stackId ? { stackId: s.home.stackId, stackName: s.home.stackName } : { stackId: old.stackId, stackName: old.stackName };
      s.home = { accountId: old.accountId, serverId: old.serverId, ...keepStack };
    }
    try {
      let placement: VmPlacement;
      let backupStartedAt: string | undefined;
      if (target === 'base-standby') {
        if (!plan.baseStandby) {
          // No standby yet: rebuild in place from the newest backup (the seed's first scenario).
          if (!plan.latestImage) throw new Error('no standby and no backup to restore from');
          s.step = 'restoring from the newest backup';
          await executeChild(RESTORE_WORKFLOW, { workflowId: `vm-restore:${input.vmId}:dr-${uuid4()}`, args: [{ vmId: input.vmId, ownerId: input.ownerId, ...(lease.leaseId ? { lease: lease.leaseId } : {}) } satisfies RestoreInput] });
          backupStartedAt = plan.latestImage.startedAt;
          const after = await store.drPlan({ vmId: input.vmId });
          placement = after.placement!;
        } else {
          let sb = plan.baseStandby;
          let started: { addresses: VmPlacement['addresses'] };
          if (withOwner) {
            // The old server is the live copy until the switch: it is fenced right after it.
            s.step = 'starting the standby';
            const up = await statusPoll.osStartServerAndWait({ accountId: sb.accountId, serverId: sb.serverId, name: standbyName(input.vmId) });
            // The standby started may be a newer one than recorded (found by its name).
            if (up.serverId) sb = { ...sb, serverId: up.serverId };
            started = up;
          } else {
            s.step = 'fencing the broken server and starting the standby';
            const [fenced, startedOld] = await Promise.all([
              old ? fenceCall.osFenceServer({ accountId: old.accountId, serverId: old.serverId }) : Promise.resolve({ fenced: true, reason: 'no old server' }),
              statusPoll.osStartServerAndWait({ accountId: sb.accountId, serverId: sb.serverId }),
            ]);
            started = startedOld;
            if (!fenced.fenced && old) s.fencePending = { cloud: 'openstack', accountId: old.accountId, serverId: old.serverId };
          }
          if (old) await failoverCall.osMoveFloatingIp({ accountId: sb.accountId, fromServerId: old.serverId, toServerId: sb.serverId });
          await store.promoteStandby({ vmId: input.vmId, accountId: sb.accountId, serverId: sb.serverId, newName: `vmflow-${input.vmId}-primary-${uuid4().slice(0, 8)}`, target });
          const read = await failoverCall.osReadServerById({ accountId: sb.accountId, serverId: sb.serverId });
          placement = { ...read, addresses: read.addresses.length ? read.addresses : started.addresses };
          backupStartedAt = sb.backupStartedAt;
        }
      } else {
        let sb = plan.backupCloudStandby;
        if (!sb) throw new Error('no standby in the backup cloud yet (no backup has reached CloudStack)');
        let started: { state: string; addresses: VmPlacement['addresses'] };
        if (withOwner) {
          s.step = 'starting the CloudStack standby';
          let up: Awaited<ReturnType<typeof statusPoll.csStartVmAndWait>>;
          try {
            up = await recoveryStart().csStartVmAndWait({ accountId: sb.accountId, csVmId: sb.csVmId, name: standbyName(input.vmId) });
          } catch (err) {
            // The standby is gone or broken — a failback consumed it and the re-protecting backup
            // that would have replaced it gave way to this disaster (short soak seed 11): a new copy
            // from the newest template in CloudStack, as a lost live copy is rebuilt.
            const rebuilt = failureTypeOf(err) === 'StandbyFailed' ? await rebuildBackupCloudStandby(plan, sb) : undefined;
            if (!rebuilt) throw err;
            up = rebuilt.up;
            sb = rebuilt.sb;
          }
          if (up.csVmId) sb = { ...sb, csVmId: up.csVmId };
          started = up;
        } else {
          s.step = 'fencing the old server and starting the CloudStack standby';
          const [fenced, startedOld] = await Promise.all([
            old?.cloud === 'openstack' ? fenceCall.osFenceServer({ accountId: old.accountId, serverId: old.serverId }) : Promise.resolve({ fenced: true, reason: 'not in the base cloud' }),
            recoveryStart().csStartVmAndWait({ accountId: sb.accountId, csVmId: sb.csVmId }),
          ]);
          started = startedOld;
          if (!fenced.fenced && old) s.fencePending = { cloud: 'openstack', accountId: old.accountId, serverId: old.serverId };
        }
        await store.promoteStandby({ vmId: input.vmId, accountId: sb.accountId, serverId: sb.csVmId, newName: '', target });
        placement = { cloud: 'cloudstack', accountId: sb.accountId, serverId: sb.csVmId, status: started.state, addresses: started.addresses };
        backupStartedAt = sb.backupStartedAt;
      }
      // The switch: one write changes where the VM runs; the API reports it from here on.
      s.step = 'switching';
      await store.setVmState({ vmId: input.vmId, to: 'active', reason: `failed over to ${target}: ${p.reason}`, placement, lastError: null });
      const done = now();
      if (withOwner && old?.cloud === 'openstack' && old.serverId !== placement.serverId) {
        // The old server is no longer the live copy: stop it now, or as soon as its cloud answers.
        s.step = 'fencing the old server';
        const fenced = await fenceCall.osFenceServer({ accountId: old.accountId, serverId: old.serverId }).catch((err: unknown) => ({ fenced: false, reason: describeError(err) }));
        if (!fenced.fenced) s.fencePending = { cloud: 'openstack', accountId: old.accountId, serverId: old.serverId };
        else if (!old.stackId) {
          // A promoted standby that broke in turn: no stack keeps it as the VM's home, so it goes.
          if (patched(CLEANUP_LATER_PATCH)) leaveBehind({ kind: 'os-server', accountId: old.accountId, id: old.serverId });
          else await statusPoll.osDeleteServer({ accountId: old.accountId, serverId: old.serverId }).catch((err: unknown) => log.warn('could not remove the replaced primary', { error: describeError(err) }));
        }
      }
      s.lastRtoSeconds = Math.max(0, (Date.parse(done) - Date.parse(p.firstFailedAt)) / 1000);
      s.lastRpoSeconds = backupStartedAt ? Math.max(0, (Date.parse(done) - Date.parse(backupStartedAt)) / 1000) : undefined;
      s.state = 'FailedOver';
      s.target = target;
      s.lastError = undefined;
      s.failoverRetry = undefined;
      s.baseHealthySince = s.baseCloudHealthy ? done : undefined;
      await event('failover.completed', `running on the ${target === 'base-standby' ? 'standby in the base cloud' : 'backup cloud (CloudStack)'}${s.fencePending ? '; the old server could not be stopped yet (fence pending)' : ''}`, {
        rpoSeconds: s.lastRpoSeconds,
        rtoSeconds: s.lastRtoSeconds,
        details: { target, serverId: placement.serverId, startedAt, firstFailedAt: p.firstFailedAt },
      });
      if (target === 'base-standby') await reprotect('after failover to the base standby', lease);
      else if (withOwner) await event('backup.paused', 'scheduled backups pause while the VM runs in the backup cloud; the RPO grows until failback (GET …/dr shows rpoSecondsNow)');
    } catch (err) {
      const message = describeError(err);
      if (patched(FAILOVER_RETRY_PATCH)) await failoverFailed(p, target, message);
      else {
        s.lastError = message;
        s.state = 'Degraded';
        await event('failover.failed', `failover to ${target} failed: ${s.lastError}`);
      }
    } finally {
      s.step = undefined;
      touch();
    }
  }

  /**
   * A new CloudStack copy for a failover whose standby is lost, from the newest template there;
   * undefined (the failover fails as before) for runs recorded earlier or without a template.
   * The lost standby is removed once the new copy runs.
   */
  async function rebuildBackupCloudStandby(
    plan: DrPlan,
    lost: NonNullable<DrPlan['backupCloudStandby']>,
  ): Promise<{ up: Awaited<ReturnType<typeof statusPoll.csStartVmAndWait>>; sb: NonNullable<DrPlan['backupCloudStandby']> } | undefined> {
    // The newest backup's template, when it is in the standby's account (else the standby's own).
    const fromLatest = plan.latestImage?.templateAccountId === undefined || plan.latestImage.templateAccountId === lost.accountId ? plan.latestImage?.templateId : undefined;
    const templateId = fromLatest ?? lost.templateId;
    if (!templateId || !patched(FAILOVER_REBUILDS_STANDBY_PATCH)) return undefined;
    s.step = 'rebuilding the CloudStack standby from the newest backup (the standby was lost)';
    touch();
    const sizes = await store.backupPlan({ vmId: input.vmId, trigger: 'manual' });
    const made = await statusPoll.csEnsureStandby({ accountId: lost.accountId, name: `vmflow-${input.vmId}-recovered-${uuid4().slice(0, 8)}`, templateId, serviceOfferingName: sizes.serviceOfferingName });
    const up = await recoveryStart().csStartVmAndWait({ accountId: lost.accountId, csVmId: made.csVmId });
    await statusPoll.csDestroyStandby({ accountId: lost.accountId, csVmId: lost.csVmId }).catch((err: unknown) => log.warn('could not remove the lost CloudStack standby', { error: describeError(err) }));
    const backupStartedAt = fromLatest ? plan.latestImage!.startedAt : lost.backupStartedAt;
    return { up: { ...up, csVmId: made.csVmId }, sb: { ...lost, csVmId: made.csVmId, templateId, backupStartedAt } };
  }

  /**
   * A disaster's failover that failed is tried again later, each wait twice the last (capped):
   * one event per distinct failure; after the last attempt an alert and no more tries until the
   * owner asks (POST …/dr/failover) or the cause clears. The VM stays Degraded meanwhile.
   */
  async function failoverFailed(p: NonNullable<Pending['failover']>, target: FailoverTarget, message: string): Promise<void> {
    const distinct = s.lastError !== message;
    s.lastError = message;
    if (p.kind === 'manual' && s.vmHealthy && s.baseCloudHealthy) {
      // Asked for while all was well: the VM stays where it runs, protected as before.
      s.state = 'Protected';
      s.failoverRetry = undefined;
      await event('failover.failed', `failover to ${target} failed; the VM keeps running where it was: ${message}`);
      return;
    }
    s.state = 'Degraded';
    const failures = (s.failoverRetry?.failures ?? 0) + 1;
    const gaveUp = failures >= FAILOVER_MAX_FAILURES;
    const waitMs = Math.min(FAILOVER_RETRY_MAX_MS, FAILOVER_RETRY_FIRST_MS * 2 ** (failures - 1));
    // A manual failover of a VM that is broken (or whose base cloud is down) is retried for that cause.
    const kind = p.kind !== 'manual' ? p.kind : s.vmHealthy ? 'disaster.cloud' : 'disaster.vm';
    const cause = { ...(p.target ? { target: p.target } : {}), reason: p.reason, firstFailedAt: p.firstFailedAt, kind };
    s.failoverRetry = { failures, gaveUp, cause, ...(gaveUp ? {} : { nextAttemptAt: new Date(Date.now() + waitMs).toISOString() }) };
    touch();
    if (gaveUp) await event('failover.gave-up', `failover failed ${failures} times; the VM is not protected until you act (POST …/dr/failover): ${message}`);
    else if (distinct) await event('failover.failed', `failover to ${target} failed; next try in ${Math.round(waitMs / 1000)} s: ${message}`);
  }

  /** A fresh backup makes a new standby (and copies it to the backup cloud); then Protected. */
  /**
   * While the VM runs in CloudStack, its copy there is checked on every tick. Stopped → started
   * again; in Error or gone → brought back from the newest backup: into its own stack in the base
   * cloud when that answers, else as a new instance from the newest template in CloudStack.
   */
  async function watchLiveCopy(): Promise<void> {
    const plan = await store.drPlan({ vmId: input.vmId });
    const live = plan.placement;
    if (!live || live.cloud !== 'cloudstack' || plan.state !== 'active') return;
    const seen = await probe.csLiveCopyState({ accountId: live.accountId, csVmId: live.serverId });
    if (CS_TRANSITIONAL.has(seen.state)) {
      liveCopyBad = liveCopyUnreachable = 0;
      return;
    }
    if (seen.state === 'Unknown') liveCopyUnreachable += 1;
    else liveCopyBad += 1;
    const lost = liveCopyBad >= LIVE_COPY_BAD_CHECKS || (liveCopyUnreachable >= LIVE_COPY_UNREACHABLE_CHECKS && s.baseCloudHealthy);
    if (!lost) return;
    liveCopyBad = liveCopyUnreachable = 0;
    const firstFailedAt = now();
    const what = seen.state === 'Unknown' ? `CloudStack does not answer about it (${seen.detail ?? 'no answer'})` : `it is ${seen.state}`;
    await event('disaster.live-copy', `the running copy in the backup cloud is lost: ${what}`);
    await withVmLease(input.vmId, 'failover', { useOwner: true }, (lease) => recoverLiveCopy(seen.state, live, firstFailedAt, lease));
  }

  async function recoverLiveCopy(seenState: string, lost: VmPlacement, firstFailedAt: string, lease: Lease): Promise<void> {
    const plan = await store.drPlan({ vmId: input.vmId });
    if (plan.placement?.serverId !== lost.serverId || plan.state !== 'active') return; // something else moved it meanwhile
    s.state = 'FailingOver';
    touch();
    try {
      if (seenState === 'Stopped') {
        s.step = 'starting the stopped copy in the backup cloud again';
        const started = await recoveryStart().csStartVmAndWait({ accountId: lost.accountId, csVmId: lost.serverId });
        await store.setVmState({ vmId: input.vmId, to: 'active', reason: 'the stopped copy in the backup cloud was started again', placement: { ...lost, status: started.state, addresses: started.addresses.length ? started.addresses : lost.addresses }, lastError: null });
        s.state = 'FailedOver';
        await event('live-copy.recovered', 'the copy in the backup cloud had stopped; it runs again', { rtoSeconds: (Date.now() - Date.parse(firstFailedAt)) / 1000 });
        return;
      }
      const base = await probe.baseCloudHealth({ accountId: s.home?.accountId ?? plan.homeAccountId });
      s.baseCloudHealthy = base.healthy;
      if (base.healthy && s.home?.stackId && plan.latestImage) {
        await restoreHomeFromBackup(plan.latestImage, lost, firstFailedAt, lease, 'the copy in the backup cloud was lost');
        return;
      }
      const templateId = plan.latestImage?.templateId ?? plan.backupCloudStandby?.templateId;
      if (!templateId) throw new Error('no backup has reached the backup cloud to rebuild from, and the base cloud is not available');
      s.step = 'rebuilding the copy in the backup cloud from the newest backup';
      const sizes = await store.backupPlan({ vmId: input.vmId, trigger: 'manual' });
      const made = await statusPoll.csEnsureStandby({ accountId: lost.accountId, name: `vmflow-${input.vmId}-recovered-${uuid4().slice(0, 8)}`, templateId, serviceOfferingName: sizes.serviceOfferingName });
      const started = await recoveryStart().csStartVmAndWait({ accountId: lost.accountId, csVmId: made.csVmId });
      const placement: VmPlacement = { cloud: 'cloudstack', accountId: lost.accountId, serverId: made.csVmId, status: started.state, addresses: started.addresses };
      await store.setVmState({ vmId: input.vmId, to: 'active', reason: 'rebuilt in the backup cloud from the newest backup (its copy there was lost)', placement, lastError: null });
      await statusPoll.csDestroyStandby({ accountId: lost.accountId, csVmId: lost.serverId }).catch((err: unknown) => log.warn('could not remove the lost CloudStack copy', { error: describeError(err) }));
      s.state = 'FailedOver';
      const backupAt = plan.latestImage?.startedAt ?? plan.backupCloudStandby?.backupStartedAt;
      await event('live-copy.recovered', 'rebuilt in the backup cloud from the newest backup', {
        rtoSeconds: (Date.now() - Date.parse(firstFailedAt)) / 1000,
        ...(backupAt ? { rpoSeconds: Math.max(0, (Date.now() - Date.parse(backupAt)) / 1000) } : {}),
        details: { serverId: made.csVmId },
      });
    } catch (err) {
      s.state = 'FailedOver';
      const message = `the lost copy could not be recovered yet: ${describeError(err)}`;
      if (s.lastError !== message) await event('failover.failed', message);
      s.lastError = message;
    } finally {
      s.step = undefined;
      touch();
    }
  }

  /**
   * The VM comes home from the newest backup image instead of from its CloudStack copy (that copy
   * is gone or broken): Heat boots the backup in the VM's own stack, the placement switches, the
   * dead copy is removed, and a fresh backup re-protects it. What changed since that backup is lost.
   */
  async function restoreHomeFromBackup(image: { imageId: string; startedAt: string }, lost: VmPlacement, firstFailedAt: string, lease: Lease, why: string): Promise<void> {
    const home = (await currentHome())!;
    s.state = 'FailingBack';
    s.step = 'restoring in the base cloud from the newest backup';
    touch();
    const handle = { accountId: home.accountId, stackName: home.stackName!, stackId: home.stackId! };
    await failoverCall.osUpdateStack({ ...handle, parameters: { image: image.imageId } });
    await statusPoll.osAwaitStack({ ...handle, action: 'UPDATE' });
    const placement = await failoverCall.osReadServer(handle);
    await store.setVmState({ vmId: input.vmId, to: 'active', reason: `restored in the base cloud from the newest backup (${why})`, placement, lastError: null });
    await removeReplacedHomeServer(home.serverId, placement);
    s.home = { accountId: placement.accountId, serverId: placement.serverId, stackId: placement.stackId, stackName: placement.stackName };
    s.fencePending = undefined;
    s.failbackRetry = undefined;
    s.lastError = undefined;
    // The lost copy goes on a later tick (CloudStack may be what lost it): the VM runs at home now.
    if (patched(CLEANUP_LATER_PATCH)) leaveBehind({ kind: 'cs-vm', accountId: lost.accountId, id: lost.serverId });
    else await statusPoll.csDestroyStandby({ accountId: lost.accountId, csVmId: lost.serverId }).catch((err: unknown) => log.warn('could not remove the lost CloudStack copy', { error: describeError(err) }));
    await event('live-copy.recovered', `${why}: restored in the base cloud from the newest backup`, {
      rtoSeconds: (Date.now() - Date.parse(firstFailedAt)) / 1000,
      rpoSeconds: Math.max(0, (Date.now() - Date.parse(image.startedAt)) / 1000),
      details: { serverId: placement.serverId },
    });
    await reprotect('after restoring from backup', lease);
  }

  /**
   * The VM is back in its stack. The server it had failed over from is gone when it was the
   * stack's own (Heat replaced it), but a promoted standby it ran on before is no stack's and
   * stays behind, fenced: it is removed (already gone is fine).
   */
  function leaveBehind(l: Leftover): void {
    s.leftovers = [...(s.leftovers ?? []), l];
  }

  /**
   * Removes what earlier switches left behind, a few quick tries each; what still fails waits for
   * the next tick. A leftover the VM uses again (its placement or a standby now) is dropped, not
   * removed; the activities refuse to touch the live copy in any case.
   */
  async function removeLeftovers(): Promise<void> {
    if (!s.leftovers?.length) return;
    const plan = await store.drPlan({ vmId: input.vmId });
    const inUse = new Set([plan.placement?.serverId, plan.baseStandby?.serverId, plan.backupCloudStandby?.csVmId].filter((x): x is string => !!x));
    const kept: Leftover[] = [];
    for (const l of s.leftovers ?? []) {
      if (l.kind !== 'store-object' && l.kind !== 'cs-template' && inUse.has(l.id)) continue;
      try {
        if (l.kind === 'os-server') await cleanupCall.osDeleteServer({ accountId: l.accountId, serverId: l.id });
        else if (l.kind === 'cs-vm') await cleanupCall.csDestroyStandby({ accountId: l.accountId, csVmId: l.id });
        else if (l.kind === 'cs-template') await cleanupCall.csDeleteTemplate({ accountId: l.accountId, templateId: l.id, forced: true });
        else await cleanupCall.storeDeleteImage({ key: l.id });
      } catch (err) {
        // Now the live copy after all: not a leftover.
        if (failureTypeOf(err) === 'LiveCopyProtected') continue;
        kept.push(l);
        // One line when a streak of failures starts, not one per tick.
        if (kept.length === 1 && leftoverFailures === 0) log.warn('could not remove what a switch left behind yet; trying again every health tick', { kind: l.kind, error: describeError(err) });
      }
    }
    s.leftovers = kept.length ? kept : undefined;
    // Tried again on every health tick (never faster): a CloudStack copy left behind may still be
    // running, and it must go as soon as its cloud answers (soak seed 1: a 1–2 minute back-off kept
    // a second running copy for over a minute after CloudStack came back).
    leftoverFailures = kept.length ? leftoverFailures + 1 : 0;
    touch();
  }

  async function removeReplacedHomeServer(previousServerId: string, now: VmPlacement): Promise<void> {
    if (previousServerId === now.serverId) return;
    if (patched(CLEANUP_LATER_PATCH)) return leaveBehind({ kind: 'os-server', accountId: now.accountId, id: previousServerId });
    await statusPoll.osDeleteServer({ accountId: now.accountId, serverId: previousServerId }).catch((err: unknown) => log.warn('could not remove the server the VM ran on before', { error: describeError(err) }));
  }

  async function reprotect(why: string, lease: Lease): Promise<void> {
    if (lease.leaseId) {
      // The VM runs again: it is Protected now, and a fresh backup (a child that asks for the VM's
      // lease once this operation gives it back) makes new standbys. This workflow does not wait
      // for it: a VM that breaks again meanwhile fails over at once, and that failover cancels the
      // backup (a failover with no standby rebuilds from the newest backup).
      await startChild(BACKUP_WORKFLOW, {
        workflowId: `vm-backup:${input.vmId}:reprotect-${uuid4()}`,
        args: [{ vmId: input.vmId, ownerId: input.ownerId, trigger: 'manual' } satisfies BackupInput],
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
    } else {
      s.step = `re-protecting (${why})`;
      touch();
      try {
        await executeChild(BACKUP_WORKFLOW, { workflowId: `vm-backup:${input.vmId}:reprotect-${uuid4()}`, args: [{ vmId: input.vmId, ownerId: input.ownerId, trigger: 'manual' } satisfies BackupInput] });
      } catch (err) {
        // The VM runs; the next scheduled backup tries again.
        log.warn('re-protect backup failed', { error: describeError(err) });
      }
    }
    s.state = 'Protected';
    s.target = undefined;
    s.vmHealthy = true;
    s.step = undefined;
    touch();
  }

  async function fence(): Promise<void> {
    const f = s.fencePending;
    if (!f) return;
    let r: { fenced: boolean };
    try {
      r = await withVmLease(input.vmId, 'fence', {}, () => fenceCall.osFenceServer({ accountId: f.accountId, serverId: f.serverId }));
    } catch (err) {
      if (!(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'LiveCopyProtected')) throw err;
      // The server runs the VM again (it came home): it must not be stopped.
      s.fencePending = undefined;
      touch();
      return;
    }
    if (r.fenced) {
      s.fencePending = undefined;
      await event('fence.completed', `the old server ${f.serverId} is stopped`);
    }
    touch();
  }

  async function failback(): Promise<void> {
    const withOwner = ownerAware();
    await withVmLease(input.vmId, 'failback', { useOwner: withOwner }, (lease) => failbackHoldingLease(lease, withOwner));
  }

  /**
   * A failed failback leaves the VM running in the backup cloud and is tried again later, each
   * wait twice the last (capped); one event per distinct failure, and after the last attempt an
   * alert and no more tries until the owner asks (POST …/dr/failback).
   */
  async function failbackFailed(message: string, withOwner: boolean): Promise<void> {
    s.state = 'FailedOver';
    s.step = undefined;
    s.awaitingApproval = false;
    if (!withOwner) {
      s.lastError = message;
      await event('failback.failed', message);
      return;
    }
    const distinct = s.lastError !== message;
    s.lastError = message;
    const failures = (s.failbackRetry?.failures ?? 0) + 1;
    const gaveUp = failures >= FAILBACK_MAX_FAILURES;
    const waitMs = Math.min(FAILBACK_RETRY_MAX_MS, FAILBACK_RETRY_FIRST_MS * 2 ** (failures - 1));
    s.failbackRetry = { failures, gaveUp, ...(gaveUp ? {} : { nextAttemptAt: new Date(Date.now() + waitMs).toISOString() }) };
    touch();
    if (gaveUp) await event('failback.gave-up', `failback failed ${failures} times; the VM keeps running in the backup cloud and failback waits for your command (POST …/dr/failback): ${message}`);
    else if (distinct) await event('failback.failed', `failback failed, still running in the backup cloud; next try in ${Math.round(waitMs / 1000)} s: ${message}`);
  }

  /** Best effort: the template, store object and Glance image a failed failback attempt made. */
  async function discardFailbackAttempt(csAccountId: string, homeAccountId: string, results: Record<string, unknown>, made: { storeKey: string; templateName: string; imageName: string; csStopped: boolean }): Promise<void> {
    const template = results.template as { templateId: string } | undefined;
    const imported = results['import-to-glance'] as { imageId: string } | undefined;
    const quietly = (what: string) => (err: unknown) => log.warn(`could not remove a failed failback's ${what}`, { error: describeError(err) });
    // A step that failed after the cloud made its template or image never returned the id: those
    // are found by their names (soak seed 2: a Glance import failing on 503 left a queued image).
    const byName = patched(FAILBACK_DISCARDS_BY_NAME_PATCH);
    await Promise.all([
      template
        ? failoverCall.csDeleteTemplate({ accountId: csAccountId, templateId: template.templateId, forced: true }).catch(quietly('template'))
        : byName && made.csStopped
          ? failoverCall.csDeleteTemplate({ accountId: csAccountId, name: made.templateName, forced: true }).catch(quietly('template'))
          : undefined,
      results['copy-to-store'] ? failoverCall.storeDeleteImage({ key: made.storeKey }).catch(quietly('store object')) : undefined,
      imported
        ? failoverCall.osDeleteImage({ accountId: homeAccountId, imageId: imported.imageId }).catch(quietly('image'))
        : byName && results['copy-to-store']
          ? failoverCall.osDeleteImage({ accountId: homeAccountId, name: made.imageName }).catch(quietly('image'))
          : undefined,
    ]);
  }

  /** The home stack as it is now: a restore may have made it anew (same name, new id). */
  async function currentHome(): Promise<Home | undefined> {
    const home = s.home;
    if (!home?.stackName) return home;
    const found = await failoverCall.osFindStack({ accountId: home.accountId, stackName: home.stackName });
    if (found.stackId && found.stackId !== home.stackId) s.home = { ...home, stackId: found.stackId };
    return s.home;
  }

  async function failbackHoldingLease(lease: Lease, withOwner: boolean): Promise<void> {
    const home = withOwner ? await currentHome() : s.home;
    const vmNow = await store.drPlan({ vmId: input.vmId });
    const cs = vmNow.placement;
    if (!home?.stackId || !home.stackName || !cs || cs.cloud !== 'cloudstack') {
      await failbackFailed('failback needs the VM running in CloudStack and its home stack in the base cloud', withOwner);
      return;
    }
    if (withOwner) {
      // A copy that is gone or broken cannot be imaged: come home from the newest backup instead.
      const seen = await probe.csLiveCopyState({ accountId: cs.accountId, csVmId: cs.serverId });
      if ((seen.state === 'Gone' || seen.state === 'Error') && vmNow.latestImage) {
        await event('disaster.live-copy', `the running copy in the backup cloud is ${seen.state}; failing back from the newest backup`);
        try {
          await restoreHomeFromBackup(vmNow.latestImage, cs, now(), lease, `the copy in the backup cloud was ${seen.state}`);
        } catch (err) {
          await failbackFailed(`restoring from the newest backup failed: ${describeError(err)}`, withOwner);
        }
        return;
      }
    }
    // With the CloudStack copy stopped, the base cloud's steps fail fast (runs recorded earlier replay the old way).
    const failFast = withOwner && patched(FAILBACK_FAILS_FAST_PATCH);
    const baseTransfer = failFast ? failbackBaseTransfer : longTransfer;
    const baseCall = failFast ? failbackBaseCall : failoverCall;
    const baseWait = failFast ? failbackBaseTransfer : statusPoll;
    const startedAt = now();
    const firstAttempt = !s.failbackRetry;
    s.state = 'FailingBack';
    s.awaitingApproval = false;
    if (firstAttempt || !withOwner) await event('failback.started', 'bringing the VM home to the base cloud');
    const failbackId = uuid4();
    const imageName = failbackImageName(input.vmId, failbackId);
    const storeKey = failbackStoreKey(input.vmId, failbackId);
    let csStopped = false;
    const tasks: TaskSpec<null>[] = [
      { name: 'fence', run: () => fenceCall.osFenceServer({ accountId: home.accountId, serverId: home.serverId }) },
      {
        name: 'stop-cloudstack-vm',
        run: async () => {
          csStopped = true;
          // The live copy is stopped on purpose: its disk becomes the image we bring home.
          return statusPoll.csStopVmAndWait({ accountId: cs.accountId, csVmId: cs.serverId, liveCopy: 'failback-imaging' });
        },
      },
      { name: 'template', requires: ['stop-cloudstack-vm'], run: () => statusPoll.csTemplateFromVm({ accountId: cs.accountId, csVmId: cs.serverId, templateName: failbackTemplateName(input.vmId, failbackId) }) },
      {
        // Extract and copy together: an extract URL is time-limited, so a copy that finds it gone
        // asks for a fresh one (a bounded number of times).
        name: 'copy-to-store',
        requires: ['template'],
        run: async (_, r) => {
          const t = r.template as { templateId: string; physicalSize?: number };
          for (let attempt = 1; ; attempt++) {
            const extract = await statusPoll.csExtractTemplateUrl({ accountId: cs.accountId, templateId: t.templateId });
            try {
              return await longTransfer.copyUrlToStore({ url: extract.url, storeKey, expectedSize: extract.physicalSize ?? t.physicalSize });
            } catch (err) {
              if (attempt >= 3 || !(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'DownloadUrlGone')) throw err;
            }
          }
        },
      },
      { name: 'import-to-glance', requires: ['copy-to-store'], run: () => baseTransfer.glanceImportFromStore({ accountId: home.accountId, imageName, storeKey, ttlSeconds: 6 * 3600 }) },
      {
        name: 'boot-in-base',
        requires: ['import-to-glance', 'fence'],
        run: async (_, r) => {
          const img = r['import-to-glance'] as { imageId: string };
          const handle = { accountId: home.accountId, stackName: home.stackName!, stackId: home.stackId! };
          await baseCall.osUpdateStack({ ...handle, parameters: { image: img.imageId } });
          await baseWait.osAwaitStack({ ...handle, action: 'UPDATE' });
          return baseCall.osReadServer(handle);
        },
      },
    ];
    s.step = 'failing back';
    const graph = await runTaskGraph(tasks, null, { now, onChange: (st) => (s.step = `failing back: ${st.filter((t) => t.state === 'running').map((t) => t.name).join(', ') || 'between steps'}`) });
    if (!graph.ok) {
      const why = graph.failures.map((f) => `${f.task}: ${f.error}`).join('; ');
      // Keep the user running: the CloudStack copy was stopped for imaging, start it again.
      if (csStopped) {
        await CancellationScope.nonCancellable(() => recoveryStart().csStartVmAndWait({ accountId: cs.accountId, csVmId: cs.serverId })).catch((e) => log.error('could not restart the CloudStack VM after a failed failback', { error: describeError(e) }));
      }
      if (failFast) {
        // What this attempt made is of no use to the next one (it images the copy anew): removed
        // now, or it stays for good — failing fast, attempts fail more often (soak seed 2).
        await CancellationScope.nonCancellable(() => discardFailbackAttempt(cs.accountId, home.accountId, graph.results, { storeKey, templateName: failbackTemplateName(input.vmId, failbackId), imageName, csStopped }));
      }
      if (withOwner) await failbackFailed(why, withOwner);
      else {
        s.lastError = why;
        s.state = 'FailedOver';
        s.step = undefined;
        await event('failback.failed', `failback failed, still running in the backup cloud: ${s.lastError}`);
      }
      return;
    }
    const placement = graph.results['boot-in-base'] as VmPlacement;
    const imported = graph.results['import-to-glance'] as { imageId: string; size: number; checksum: string };
    await store.setVmState({ vmId: input.vmId, to: 'active', reason: 'failed back to the base cloud', placement, lastError: null });
    if (withOwner) await removeReplacedHomeServer(home.serverId, placement);
    const rto = (Date.now() - Date.parse(startedAt)) / 1000;
    s.home = { accountId: placement.accountId, serverId: placement.serverId, stackId: placement.stackId, stackName: placement.stackName };
    // Clean up the backup-cloud copy and the transfer's leftovers, and record the image we came home
    // with. The clean-up waits for later ticks: the VM runs at home now, and drVm must be free to
    // answer if that copy breaks while CloudStack or the store is slow to answer.
    const templateId = (graph.results.template as { templateId: string }).templateId;
    const cleanUpLater = withOwner && patched(CLEANUP_LATER_PATCH);
    if (cleanUpLater) {
      leaveBehind({ kind: 'cs-vm', accountId: cs.accountId, id: cs.serverId });
      leaveBehind({ kind: 'cs-template', accountId: cs.accountId, id: templateId });
      leaveBehind({ kind: 'store-object', id: storeKey });
    }
    await Promise.all([
      cleanUpLater ? undefined : statusPoll.csDestroyStandby({ accountId: cs.accountId, csVmId: cs.serverId }),
      cleanUpLater ? undefined : failoverCall.csDeleteTemplate({ accountId: cs.accountId, templateId, forced: true }),
      cleanUpLater ? undefined : failoverCall.storeDeleteImage({ key: storeKey }),
      store.recordFailbackImage({
        backupId: failbackId,
        vmId: input.vmId,
        ownerId: input.ownerId,
        accountId: placement.accountId,
        serverId: placement.serverId,
        size: '',
        os: '',
        image: { id: imported.imageId, name: imageName, size: imported.size, checksum: imported.checksum },
      }),
    ]);
    s.failbackRetry = undefined;
    // The old home server was fenced by this failback and Heat replaced it: nothing is pending.
    if (withOwner) s.fencePending = undefined;
    await event('failback.completed', 'the VM runs in the base cloud again', { rtoSeconds: rto, details: { serverId: placement.serverId } });
    await reprotect('after failback', lease);
  }
}
