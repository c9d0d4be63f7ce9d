/**
 * The contract of the per-account cloud monitor (workflows/dr-monitor.ts): its query and signal
 * names and the status its query answers. Free of I/O: the workflow, the API, tests and benchmarks
 * import it.
 */
import type { CloudHealthSignal, CloudMonitorState, MonitorSettings } from './dr';

export const MONITOR_STATUS_QUERY = 'monitorStatus';
export const MONITOR_SETTINGS_SIGNAL = 'monitorSettings';
export const MONITOR_CHECK_NOW_SIGNAL = 'monitorCheckNow';

/** The last probe's figures (a CloudProbe of activities/dr-monitor.ts, without the VM lists). */
export interface MonitorProbeSummary {
  checkedAt: string;
  cloudOk: boolean;
  cloudDetail: string;
  apiCalls: number;
  elapsedMs: number;
  dbMs: number;
  /** The protected set came from the probe's kept copy (src/dr/protected-set.ts). */
  dbCached?: boolean;
  serversListed: number;
  /** Protected VMs the probe found not ACTIVE, or failing their guest check. */
  unhealthyNow: number;
  /** The guest checks of that interval (absent when no VM of the account declares one). */
  guests?: GuestRoundFigures;
}

export interface GuestRoundFigures {
  /** VMs with a guest check whose server is ACTIVE. */
  declared: number;
  /** Checks made this interval (the others were not due). */
  checked: number;
  /** Made checks that failed, and VMs reported as failing (failed on a server where the check had passed before). */
  failed: number;
  failing: number;
  /** Checks not finished within the batch deadline. */
  inconclusive: number;
  /** VMs whose address may not be checked from here (guestAddressRefusal) or has no reachable address. */
  refused: number;
  elapsedMs: number;
}

export interface SentSignalRecord {
  at: string;
  kind: 'vmHealth' | 'cloudHealth';
  healthy: boolean;
  /** vmHealth only. */
  vmId?: string;
  /** vmHealth: the server status; cloudHealth: the cloud's detail. */
  status?: string;
  firstFailedAt?: string;
  /** vmHealth: the DR workflow got it; cloudHealth: the fan-out finished. */
  delivered: boolean;
  /** cloudHealth: DR workflows signalled, and those not running. */
  recipients?: number;
  notRunning?: number;
  error?: string;
}

export interface MonitorStatus {
  accountId: string;
  settings: MonitorSettings;
  /** What the monitor is doing now; `waiting` between checks. */
  phase: 'probing' | 'signalling' | 'waiting';
  /** Checks since the monitor first started (across continue-as-new). */
  checks: number;
  cloudHealthy: boolean;
  cloud: CloudMonitorState['cloud'];
  /** VMs currently reported unhealthy. */
  unhealthyVmCount: number;
  /** VMs with counters (unhealthy or failing), up to 100 of them. */
  trackedVmCount: number;
  trackedVms: CloudMonitorState['vms'];
  protectedCount?: number;
  lastProbe?: MonitorProbeSummary;
  /** The last check that could not run at all (MongoDB down, worker misconfigured). */
  lastError?: string;
  /** A cloud change whose fan-out has not finished yet (retried each interval). */
  pendingCloudSignal?: CloudHealthSignal;
  recentSignals: SentSignalRecord[];
  updatedAt: string;
}
