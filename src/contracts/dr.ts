/**
 * Contract of disaster recovery (UC-009): a DR entity workflow per protected VM, one health monitor
 * per cloud account, failover / failback / drill, and the events the user is told about. Imported
 * by workflows, activities, worker and API; no I/O.
 *
 *   Protected ──(VM unhealthy)──▶ Degraded ──(confirmed)──▶ FailingOver ──▶ FailedOver(target)
 *       ▲                                                                        │
 *       └──────────── FailingBack ◀──(base healthy long enough [+ approval])──────┘
 */
import { defineUpdate } from '@temporalio/workflow';

export const DR_WORKFLOW = 'drVm';
export const CLOUD_MONITOR_WORKFLOW = 'cloudMonitor';
export const DRILL_WORKFLOW = 'drDrill';
export const DELIVER_ALERT_WORKFLOW = 'deliverAlert';

export const drWorkflowId = (vmId: string): string => `vm-dr:${vmId}`;
export const cloudMonitorWorkflowId = (accountId: string): string => `dr-monitor:${accountId}`;
export const drillWorkflowId = (vmId: string, requestId: string): string => `vm-drill:${vmId}:${requestId}`;
export const drillScheduleId = (vmId: string): string => `vm-drill:${vmId}`;
export const alertWorkflowId = (eventId: string): string => `alert:${eventId}`;

/** Cloud names of what DR makes. */
export const drillServerName = (vmId: string, drillId: string): string => `vmflow-${vmId}-drill-${drillId}`;
export const failbackImageName = (vmId: string, failbackId: string): string => `vmflow-${vmId}-failback-${failbackId}`;
export const failbackTemplateName = (vmId: string, failbackId: string): string => `vmflow-${vmId}-failback-${failbackId}`;
export const failbackStoreKey = (vmId: string, failbackId: string): string => `vms/${vmId}/failback-${failbackId}.qcow2`;

export type DrState = 'Protected' | 'Degraded' | 'FailingOver' | 'FailedOver' | 'FailingBack';
export type FailoverTarget = 'base-standby' | 'backup-cloud';
export type FailbackMode = 'automatic' | 'approval';

/** Signals and updates (names as Temporal sees them). */
export const DR_SIGNALS = { vmHealth: 'vmHealth', cloudHealth: 'cloudHealth', stop: 'stopProtection', settings: 'drSettings', leftover: 'drLeftover' } as const;

/**
 * From another workflow of the VM (restoreVm): a server the VM no longer runs on that it could not
 * remove (its cloud did not answer, or a failover took the VM over first). drVm removes it with its
 * own leftovers, as soon as the cloud answers.
 */
export interface DrLeftoverSignal {
  kind: 'os-server';
  accountId: string;
  id: string;
}
export const DR_UPDATES = { failover: 'failover', failback: 'failback', approve: 'approveFailback' } as const;
/**
 * drVm's updates, typed once for both sides: the workflow sets their handlers, the API executes
 * them (`defineUpdate` is a plain definition, safe outside a workflow).
 */
export const failoverUpdate = defineUpdate<DrStatus, [ManualFailoverRequest]>(DR_UPDATES.failover);
export const failbackUpdate = defineUpdate<DrStatus, []>(DR_UPDATES.failback);
export const approveFailbackUpdate = defineUpdate<DrStatus, []>(DR_UPDATES.approve);
export const DR_STATUS_QUERY = 'drStatus';

export interface DrSettings {
  failbackMode: FailbackMode;
  /** The base cloud must have been healthy this long before a failback starts. */
  failbackAfterHealthySeconds: number;
}

/** From the cloud monitor: this VM's server changed health (after the thresholds were met). */
export interface VmHealthSignal {
  healthy: boolean;
  /** Server status as listed (ACTIVE, ERROR, SHUTOFF, MISSING…). */
  status: string;
  /** When the first failed check of this run of failures was seen (RTO starts here). */
  firstFailedAt?: string;
  observedAt: string;
  /** The server judged (absent from monitors older than it): a verdict about a server the VM has left says nothing. */
  serverId?: string;
}

/** From the cloud monitor: the cloud's API (Keystone, Nova) changed health. */
export interface CloudHealthSignal {
  accountId: string;
  healthy: boolean;
  detail: string;
  firstFailedAt?: string;
  observedAt: string;
}

export interface DrStartInput {
  vmId: string;
  ownerId: string;
  settings: DrSettings;
  /** Carried over continue-as-new. */
  carried?: DrStatus;
  /** Carried over continue-as-new: the owner approved the failback that waits for approval. */
  approvedFailback?: boolean;
}

export interface ManualFailoverRequest {
  /** Default: base-standby when the base cloud is healthy, else backup-cloud. */
  target?: FailoverTarget;
  reason?: string;
}

export interface DrEventRef {
  at: string;
  kind: DrEventKind;
  message: string;
}

export interface DrStatus {
  vmId: string;
  state: DrState;
  target?: FailoverTarget;
  settings: DrSettings;
  baseCloudHealthy: boolean;
  baseHealthySince?: string;
  vmHealthy: boolean;
  awaitingApproval: boolean;
  /** The old primary could not be fenced (stopped) when we switched; done when it is reachable. */
  fencePending?: { cloud: 'openstack' | 'cloudstack'; accountId: string; serverId: string };
  lastRpoSeconds?: number;
  lastRtoSeconds?: number;
  lastError?: string;
  /** Failback attempts that failed in a row: the next waits longer; after the last, a command is needed. */
  failbackRetry?: { failures: number; nextAttemptAt?: string; gaveUp: boolean };
  /**
   * A disaster's failover that failed in a row (Degraded meanwhile): tried again after a wait that
   * doubles, unless its cause has cleared (the VM or the base cloud healthy again: back to
   * Protected); after the last attempt a command is needed (POST …/dr/failover).
   */
  failoverRetry?: { failures: number; nextAttemptAt?: string; gaveUp: boolean; cause: { target?: FailoverTarget; reason: string; firstFailedAt: string; kind: 'disaster.vm' | 'disaster.cloud' } };
  recentEvents: DrEventRef[];
  step?: string;
  updatedAt: string;
}

export type DrEventKind =
  | 'disaster.vm'
  | 'disaster.cloud'
  | 'failover.started'
  | 'failover.completed'
  | 'failover.failed'
  | 'failover.gave-up'
  | 'failback.waiting-approval'
  | 'failback.started'
  | 'failback.completed'
  | 'failback.failed'
  | 'failback.gave-up'
  | 'backup.paused'
  | 'disaster.live-copy'
  | 'live-copy.recovered'
  | 'cloud.recovered'
  | 'fence.completed'
  | 'drill.completed'
  | 'drill.failed';

/** What is stored for the user (GET /api/v1/events) and sent to the webhook. */
export interface DrEvent {
  id: string;
  ownerId: string;
  vmId: string;
  kind: DrEventKind;
  message: string;
  at: string;
  /** Age of the backup the failover used, in seconds. */
  rpoSeconds?: number;
  /** From the first failed check to the switch completing, in seconds. */
  rtoSeconds?: number;
  details?: Record<string, unknown>;
}

export interface DrillInput {
  vmId: string;
  ownerId: string;
  target: FailoverTarget;
}

export interface DrillReport {
  drillId: string;
  vmId: string;
  target: FailoverTarget;
  ok: boolean;
  /** From the drill's start to the isolated copy running, in seconds. */
  bootSeconds?: number;
  backupId?: string;
  rpoSeconds?: number;
  cleanedUp: boolean;
  error?: string;
  startedAt: string;
  finishedAt: string;
}

/** Cloud monitor configuration (from the environment via the API/worker). */
export interface MonitorSettings {
  intervalSeconds: number;
  /** Consecutive failed checks before a VM or the cloud counts as down. */
  failureThreshold: number;
  /** Consecutive good checks before it counts as up again. */
  successThreshold: number;
}

export interface CloudMonitorInput {
  accountId: string;
  settings: MonitorSettings;
  /** Carried over continue-as-new. */
  carried?: CloudMonitorState;
}

/** Per-VM and per-cloud counters the monitor keeps between checks. */
export interface CloudMonitorState {
  cloud: { healthy: boolean; failures: number; successes: number; firstFailedAt?: string };
  /** vmId → counters; only VMs whose state is not plain healthy are kept (healthy is the default). */
  vms: Record<string, { healthy: boolean; failures: number; successes: number; firstFailedAt?: string; status: string; /** The server counted (absent in states carried before it existed). */ serverId?: string }>;
  checks: number;
}
