/**
 * Health verdicts of the cloud monitor (UC-009): turns one observation of a cloud account (is its
 * API up, which protected VMs are not ACTIVE) into the next counters and the changes to signal.
 * Pure and deterministic (no I/O, no clock: `now` is passed in), so workflows import it and unit
 * tests drive it check by check.
 *
 * Rules:
 * - A VM is healthy unless listed in `unhealthy`. Counters exist only for VMs that are not plain
 *   healthy (unhealthy, or in a run of failures), so 10,000 healthy VMs cost nothing.
 * - A VM (or the cloud) turns unhealthy after `failureThreshold` consecutive bad checks, and the
 *   change carries `firstFailedAt` = the time of the first bad check of that run (RTO starts
 *   there). It turns healthy again after `successThreshold` consecutive good checks. Each change is
 *   reported once; a run shorter than the threshold (a blip) reports nothing.
 * - A check whose cloud API failed (`cloudOk` false) says nothing about VMs: their counters stay
 *   as they are (no VM verdicts from a dead API). Only the cloud's own counters move.
 * - Counters belong to the server the VM is placed on: when the VM moves to another server, the
 *   new one starts from healthy (a failure there is a new disaster, signalled again).
 * - A tracked VM the probe no longer counts as protected (absent from `checkedVmIds`) is dropped
 *   without a signal: its protection ended, not its health.
 * - Guest checks (src/dr/guest-checks.ts): a VM whose guest failed is listed in `unhealthy` like a
 *   broken server; a tracked VM whose guest was not checked this time (`unjudged`) keeps its
 *   counters; a VM's declared thresholds (`vmThresholds`) replace the monitor's for it.
 */
import type { CloudHealthSignal, CloudMonitorState, MonitorSettings, VmHealthSignal } from '../../src/contracts/dr';

/** What one probe of a cloud account saw. */
export interface Observation {
  accountId: string;
  /** Keystone and Nova answered (the server list is complete). */
  cloudOk: boolean;
  /** Readable reason when not ok (e.g. "Nova: 503 on GET /servers/detail"); "ok" otherwise. */
  cloudDetail: string;
  /**
   * The cloud answered 429 (it throttles us): it is up, but nothing is known about the VMs. The
   * check counts neither way — a rate limit never fails a whole cloud over. Absent in probes
   * recorded before it existed, which replay as they ran.
   */
  throttled?: boolean;
  /** vmId → server status (ERROR, SHUTOFF, MISSING, …) of protected VMs that are not ACTIVE now. */
  unhealthy: Record<string, string>;
  /**
   * The VMs among those tracked in the state (and those unhealthy now) that are still protected.
   * Only these ids travel, so the history stays small; tracked VMs missing here are forgotten.
   */
  checkedVmIds: string[];
  /**
   * vmId → the server the VM is placed on, for the VMs in `checkedVmIds`. Counters belong to a
   * server: when a VM moves to another one (a failover to its base standby, a restore), the old
   * server's run of failures says nothing about the new one, and the new one's first failure must
   * be signalled even if the old one was never seen healthy again. Absent in probes recorded before
   * it existed, which replay as they ran.
   */
  serverOf?: Record<string, string>;
  /**
   * Guest health checks (src/dr/guest-checks.ts): tracked VMs about which this check says nothing —
   * their server is ACTIVE but their guest was not checked this interval (its own interval has not
   * passed, or the batch ran out of time). Their counters stay as they are. Absent in probes
   * recorded before guest checks, which replay as they ran.
   */
  unjudged?: string[];
  /** Thresholds a VM declared with its guest check; they replace the monitor's for that VM. */
  vmThresholds?: Record<string, Partial<Pick<MonitorSettings, 'failureThreshold' | 'successThreshold'>>>;
}

export type VmChange = { vmId: string } & VmHealthSignal;

export interface HealthVerdict {
  state: CloudMonitorState;
  /** VMs whose health changed with this check, sorted by vmId. */
  vmChanges: VmChange[];
  cloudChange?: CloudHealthSignal;
}

/** Status reported for a VM that is healthy again. */
export const HEALTHY_STATUS = 'ACTIVE';

/** Shortest interval accepted: a zero or negative one would spin. */
export const MIN_INTERVAL_SECONDS = 1;

/** Settings made safe: interval ≥ 1 s (default 30), whole thresholds ≥ 1 (default 3). */
export function normalizeMonitorSettings(s: MonitorSettings): MonitorSettings {
  const int = (v: unknown, min: number, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? Math.max(min, Math.floor(v)) : fallback);
  return {
    intervalSeconds: typeof s.intervalSeconds === 'number' && Number.isFinite(s.intervalSeconds) ? Math.max(MIN_INTERVAL_SECONDS, s.intervalSeconds) : 30,
    failureThreshold: int(s.failureThreshold, 1, 3),
    successThreshold: int(s.successThreshold, 1, 3),
  };
}

export function initialMonitorState(): CloudMonitorState {
  return { cloud: { healthy: true, failures: 0, successes: 0 }, vms: {}, checks: 0 };
}

/** Thresholds below 1 would signal before any check; they count as 1. */
function thresholds(s: MonitorSettings): { fail: number; ok: number } {
  return { fail: Math.max(1, Math.floor(s.failureThreshold)), ok: Math.max(1, Math.floor(s.successThreshold)) };
}

type Counters = CloudMonitorState['cloud'];
type VmCounters = CloudMonitorState['vms'][string];

/** One check against a counter set; `changed` when the verdict flips. */
function step<C extends Counters>(c: C, bad: boolean, now: string, t: { fail: number; ok: number }): { next: C; changed: boolean } {
  const next: C = { ...c };
  if (bad) {
    next.successes = 0;
    next.failures = c.failures + 1;
    // A new run of failures starts while healthy; while unhealthy the outage's start stays.
    if (c.healthy && c.failures === 0) next.firstFailedAt = now;
    if (c.healthy && next.failures >= t.fail) {
      next.healthy = false;
      return { next, changed: true };
    }
    return { next, changed: false };
  }
  next.failures = 0;
  if (c.healthy) {
    // A blip ended before the threshold: forget it.
    next.successes = 0;
    delete next.firstFailedAt;
    return { next, changed: false };
  }
  next.successes = c.successes + 1;
  if (next.successes >= t.ok) {
    next.healthy = true;
    next.successes = 0;
    return { next, changed: true };
  }
  return { next, changed: false };
}

export function applyObservation(state: CloudMonitorState, obs: Observation, settings: MonitorSettings, now: string): HealthVerdict {
  if (obs.throttled) return { state: { ...state, checks: state.checks + 1 }, vmChanges: [] };
  const t = thresholds(settings);
  const vms: CloudMonitorState['vms'] = { ...state.vms };
  const vmChanges: VmChange[] = [];

  const cloud = step(state.cloud, !obs.cloudOk, now, t);
  let cloudChange: CloudHealthSignal | undefined;
  if (cloud.changed) {
    cloudChange = {
      accountId: obs.accountId,
      healthy: cloud.next.healthy,
      detail: obs.cloudDetail,
      // On recovery: when the outage that just ended began.
      ...(cloud.next.firstFailedAt ? { firstFailedAt: cloud.next.firstFailedAt } : {}),
      observedAt: now,
    };
  }
  const cloudState = { ...cloud.next };
  if (cloud.changed && cloudState.healthy) delete cloudState.firstFailedAt;

  if (obs.cloudOk) {
    const stillProtected = new Set(obs.checkedVmIds);
    for (const vmId of Object.keys(obs.unhealthy)) stillProtected.add(vmId);
    const ids = new Set([...Object.keys(vms), ...Object.keys(obs.unhealthy)]);
    const unjudged = new Set(obs.unjudged ?? []);
    for (const vmId of [...ids].sort()) {
      if (!stillProtected.has(vmId)) {
        delete vms[vmId];
        continue;
      }
      const status = obs.unhealthy[vmId];
      if (status === undefined && unjudged.has(vmId)) continue;
      const own = obs.vmThresholds?.[vmId];
      const tv = own ? thresholds({ ...settings, ...own }) : t;
      const bad = status !== undefined;
      const serverId = obs.serverOf?.[vmId];
      const fresh: VmCounters = { healthy: true, failures: 0, successes: 0, status: HEALTHY_STATUS };
      const known = vms[vmId];
      const before: VmCounters = known && !(serverId && known.serverId && known.serverId !== serverId) ? known : fresh;
      const { next, changed } = step(before, bad, now, tv);
      next.status = bad ? status : HEALTHY_STATUS;
      if (serverId) next.serverId = serverId;
      if (changed) {
        vmChanges.push({
          vmId,
          healthy: next.healthy,
          status: next.status,
          ...(next.firstFailedAt ? { firstFailedAt: next.firstFailedAt } : {}),
          observedAt: now,
          ...(next.serverId ? { serverId: next.serverId } : {}),
        });
      }
      if (next.healthy && next.failures === 0) delete vms[vmId];
      else vms[vmId] = next;
    }
  }

  return { state: { cloud: cloudState, vms, checks: state.checks + 1 }, vmChanges, ...(cloudChange ? { cloudChange } : {}) };
}
