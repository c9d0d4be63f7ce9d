/**
 * cloudMonitor (UC-009): ONE monitor per OpenStack cloud account, however many VMs it protects.
 * Each interval: one probe activity (protected VMs from MongoDB, one Keystone call, Nova's server
 * list in pages of 1000), the pure verdicts of lib/health.ts, signals only for what changed, one
 * timer. So an interval of a quiet cloud costs 1 activity + 1 timer in history, whether the
 * account has 10 VMs or 10,000.
 *
 * - A VM's change goes to its DR workflow (`vm-dr:<vmId>`) as `vmHealth`, from here (few).
 * - A cloud change goes to every protected VM's DR workflow as `cloudHealth`, through the
 *   signalCloudHealth activity (thousands of signals from here would be two events each); a
 *   fan-out that failed is retried on the next interval until delivered.
 * - A DR workflow that is not running is skipped; what was sent is kept (last 100) for the
 *   `monitorStatus` query.
 * - `monitorSettings` changes the settings (and checks at once); `monitorCheckNow` checks at once.
 * - Continue-as-new every MAX_ITERATIONS_PER_RUN checks or when Temporal suggests it, carrying
 *   the counters, the settings, the pending fan-out, the recent signals and the last probe; the
 *   new run waits out the interval before its first check.
 * - Ends only when its cloud account no longer exists (or when cancelled / terminated).
 */
import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  DR_SIGNALS,
  drWorkflowId,
  type CloudHealthSignal,
  type CloudMonitorInput,
  type CloudMonitorState,
  type MonitorSettings,
  type VmHealthSignal,
} from '../src/contracts/dr';
import {
  MONITOR_CHECK_NOW_SIGNAL,
  MONITOR_SETTINGS_SIGNAL,
  MONITOR_STATUS_QUERY,
  type MonitorStatus,
  type SentSignalRecord,
} from '../src/contracts/dr-monitor';
import { applyObservation, initialMonitorState, normalizeMonitorSettings, type VmChange } from './lib/health';
import { describeError, failureTypeOf } from './lib/task-graph';

/** Checks per run before continue-as-new (≈ 11 events each, well below Temporal's limits). */
export const MAX_ITERATIONS_PER_RUN = 500;
/** Signals sent remembered for the status query. */
export const RECENT_SIGNALS_KEPT = 100;
/** Tracked VMs shown by the status query (all are counted). */
const TRACKED_SHOWN = 100;
/** VM signals in flight at once. */
const VM_SIGNAL_CONCURRENCY = 50;

export interface CloudMonitorRunInput extends CloudMonitorInput {
  /** Checks per run before continue-as-new; default MAX_ITERATIONS_PER_RUN. */
  maxChecksPerRun?: number;
  /** Carried over continue-as-new. */
  recentSignals?: SentSignalRecord[];
  pendingCloudSignal?: CloudHealthSignal;
  lastProbe?: MonitorStatus['lastProbe'];
  protectedCount?: number;
  /** A check was asked for during the hand-over: the new run checks at once. */
  checkNow?: boolean;
}

export interface CloudMonitorResult {
  accountId: string;
  ended: 'account-gone';
  checks: number;
}

export const monitorStatusQuery = defineQuery<MonitorStatus>(MONITOR_STATUS_QUERY);
export const monitorSettingsSignal = defineSignal<[Partial<MonitorSettings>]>(MONITOR_SETTINGS_SIGNAL);
export const monitorCheckNowSignal = defineSignal<[]>(MONITOR_CHECK_NOW_SIGNAL);
const vmHealthSignal = defineSignal<[VmHealthSignal]>(DR_SIGNALS.vmHealth);

/**
 * The probe: a MongoDB or worker problem is retried briefly; cloud failures never fail it. Its calls
 * time out after 5 s each (PROBE_CALL_TIMEOUT_MS), so 30 s is plenty — and a probe lost with a killed
 * worker leaves the monitor blind for at most that long (timeouts are not part of replay).
 */
const probe = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 3, nonRetryableErrorTypes: ['CloudAccountNotFound', 'Misconfigured'] },
});

/** The cloud-change fan-out: heartbeats its progress, a retry resumes there. */
const fanOut = proxyActivities<Activities>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5, nonRetryableErrorTypes: ['Misconfigured'] },
});

export async function cloudMonitor(input: CloudMonitorRunInput): Promise<CloudMonitorResult> {
  const { accountId } = input;
  let settings = normalizeMonitorSettings(input.settings);
  let state: CloudMonitorState = input.carried ?? initialMonitorState();
  let pendingCloudSignal = input.pendingCloudSignal;
  const recent: SentSignalRecord[] = [...(input.recentSignals ?? [])].slice(-RECENT_SIGNALS_KEPT);
  let lastProbe: MonitorStatus['lastProbe'] = input.lastProbe;
  let lastError: string | undefined;
  let protectedCount: number | undefined = input.protectedCount;
  let wake = false;
  let phase: MonitorStatus['phase'] = 'probing';

  const remember = (r: SentSignalRecord) => {
    recent.push(r);
    if (recent.length > RECENT_SIGNALS_KEPT) recent.splice(0, recent.length - RECENT_SIGNALS_KEPT);
  };

  setHandler(monitorStatusQuery, (): MonitorStatus => {
    const tracked = Object.keys(state.vms).sort();
    return {
      accountId,
      settings,
      phase,
      checks: state.checks,
      cloudHealthy: state.cloud.healthy,
      cloud: { ...state.cloud },
      unhealthyVmCount: Object.values(state.vms).filter((v) => !v.healthy).length,
      trackedVmCount: tracked.length,
      trackedVms: Object.fromEntries(tracked.slice(0, TRACKED_SHOWN).map((id) => [id, { ...state.vms[id] }])),
      protectedCount,
      lastProbe,
      lastError,
      pendingCloudSignal,
      recentSignals: recent.map((r) => ({ ...r })),
      updatedAt: new Date().toISOString(),
    };
  });
  setHandler(monitorSettingsSignal, (patch) => {
    settings = normalizeMonitorSettings({ ...settings, ...patch });
    wake = true;
  });
  setHandler(monitorCheckNowSignal, () => {
    wake = true;
  });

  async function signalVmChanges(changes: VmChange[]): Promise<void> {
    for (let i = 0; i < changes.length; i += VM_SIGNAL_CONCURRENCY) {
      await Promise.all(
        changes.slice(i, i + VM_SIGNAL_CONCURRENCY).map(async ({ vmId, ...signal }) => {
          const record: SentSignalRecord = { at: signal.observedAt, kind: 'vmHealth', vmId, healthy: signal.healthy, status: signal.status, firstFailedAt: signal.firstFailedAt, delivered: true };
          try {
            await getExternalWorkflowHandle(drWorkflowId(vmId)).signal(vmHealthSignal, signal);
          } catch (err) {
            // Its DR workflow has ended (protection removed): nobody to tell.
            record.delivered = false;
            record.error = describeError(err);
          }
          remember(record);
        }),
      );
    }
  }

  async function deliverCloudSignal(signal: CloudHealthSignal): Promise<void> {
    const record: SentSignalRecord = { at: signal.observedAt, kind: 'cloudHealth', healthy: signal.healthy, status: signal.detail, firstFailedAt: signal.firstFailedAt, delivered: false };
    try {
      const r = await fanOut.signalCloudHealth({ accountId, signal });
      record.delivered = true;
      record.recipients = r.signalled;
      record.notRunning = r.notRunning;
      pendingCloudSignal = undefined;
    } catch (err) {
      record.error = describeError(err);
      log.warn('cloud health fan-out failed; retried next interval', { accountId, error: record.error });
    }
    remember(record);
  }

  // A continued run waits out the interval first (its predecessor has just checked), unless a
  // check was asked for while the predecessor was handing over.
  let waitFirst = !!input.carried && !input.checkNow;
  const maxChecks = Math.max(1, Math.floor(input.maxChecksPerRun ?? MAX_ITERATIONS_PER_RUN));
  for (let iteration = 0; ; iteration++) {
    if (waitFirst) {
      phase = 'waiting';
      await condition(() => wake, Math.round(settings.intervalSeconds * 1000));
    }
    waitFirst = true;
    wake = false;
    phase = 'probing';
    try {
      const p = await probe.probeCloud({ accountId, trackedVmIds: Object.keys(state.vms) });
      protectedCount = p.protectedCount;
      lastProbe = {
        checkedAt: p.checkedAt,
        cloudOk: p.cloudOk,
        cloudDetail: p.cloudDetail,
        apiCalls: p.apiCalls,
        elapsedMs: p.elapsedMs,
        dbMs: p.dbMs,
        ...(p.dbCached !== undefined ? { dbCached: p.dbCached } : {}),
        serversListed: p.serversListed,
        unhealthyNow: Object.keys(p.unhealthy).length,
        ...(p.guests ? { guests: p.guests } : {}),
      };
      lastError = undefined;
      const verdict = applyObservation(state, p, settings, p.checkedAt);
      state = verdict.state;
      phase = 'signalling';
      if (verdict.vmChanges.length) await signalVmChanges(verdict.vmChanges);
      // The newest cloud verdict replaces one whose fan-out is still pending.
      if (verdict.cloudChange) pendingCloudSignal = verdict.cloudChange;
    } catch (err) {
      if (failureTypeOf(err) === 'CloudAccountNotFound') {
        log.info('cloud account removed; monitor ends', { accountId });
        return { accountId, ended: 'account-gone', checks: state.checks };
      }
      lastError = describeError(err);
      log.warn('cloud check could not run', { accountId, error: lastError });
    }
    if (pendingCloudSignal) {
      phase = 'signalling';
      await deliverCloudSignal(pendingCloudSignal);
    }

    if (workflowInfo().continueAsNewSuggested || iteration + 1 >= maxChecks) {
      await continueAsNew<typeof cloudMonitor>({
        accountId,
        settings,
        carried: state,
        recentSignals: recent,
        pendingCloudSignal,
        lastProbe,
        protectedCount,
        maxChecksPerRun: input.maxChecksPerRun,
        checkNow: wake,
      });
    }
  }
}
