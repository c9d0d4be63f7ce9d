/**
 * Contract of an environment's recovery plan (workflows/environment-dr.ts): the one DR workflow of
 * a protected environment (`env-dr:<envId>`), which fails its members over in dependency order
 * when the base cloud goes down and fails them back in the same order, and the environment drill
 * (`env-drill:<envId>`). Every member stays protected by its own drVm: these workflows only say
 * when each member goes. Imported by workflows, activities and API; no I/O.
 */
import type { GuestHealthCheck } from '../dr/guest-checks';

export const ENVIRONMENT_DR_WORKFLOW = 'environmentDr';
export const ENVIRONMENT_DRILL_WORKFLOW = 'environmentDrill';

export const environmentDrWorkflowId = (envId: string): string => `env-dr:${envId}`;
export const environmentDrillWorkflowId = (envId: string): string => `env-drill:${envId}`;
/** The drill's own isolated network (made and removed by the environments' network activities). */
export const environmentDrillNetworkKey = (envId: string, drillId: string): string => `${envId}-drill-${drillId}`;

/**
 * Signals of environmentDr. `cloudHealth` has the drVm signal's name and payload (CloudHealthSignal):
 * the monitor's fan-out delivers a protected environment's verdict here instead of to its members.
 */
export const ENVIRONMENT_DR_SIGNALS = { cloudHealth: 'cloudHealth', stop: 'stopEnvironmentDr', settings: 'environmentDrSettings' } as const;
export const ENVIRONMENT_DR_STATUS_QUERY = 'environmentDrStatus';

export type EnvironmentDrState = 'Protected' | 'FailingOver' | 'FailedOver' | 'FailingBack';

export interface EnvironmentDrSettings {
  /** Seconds to wait after a wave has arrived before the next starts (failover and failback). */
  waitSeconds: number;
  /** Per member name: a check of its service, passed before the next wave starts (also the member's guest check). */
  healthChecks: Record<string, GuestHealthCheck>;
}

export interface EnvironmentDrMember {
  name: string;
  vmId: string;
  requires: string[];
}

export interface EnvironmentDrInput {
  envId: string;
  ownerId: string;
  members: EnvironmentDrMember[];
  settings: EnvironmentDrSettings;
  /** How often members' DR states are read while waiting for a wave (seconds; default 5). */
  pollSeconds?: number;
  /** Carried over continue-as-new. */
  carried?: EnvironmentDrStatus;
}

/** One member's part in a plan run (failover, failback or drill). */
export interface PlanMemberRun {
  name: string;
  vmId: string;
  wave: number;
  /** When this member was told to go (its wave's start). */
  startedAt?: string;
  /** When it arrived (FailedOver, Protected again, or its drill copy running). */
  finishedAt?: string;
  /** From startedAt to finishedAt, in seconds. */
  rtoSeconds?: number;
  result: 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';
  /** `true`/`false` once its health check ran; absent without one. */
  healthy?: boolean;
  error?: string;
}

export interface PlanRun {
  startedAt: string;
  finishedAt?: string;
  ok?: boolean;
  error?: string;
  members: PlanMemberRun[];
}

/** What environmentDr records for readers (GET /api/v1/environments/:id/dr) and carries over continue-as-new. */
export interface EnvironmentDrStatus {
  envId: string;
  state: EnvironmentDrState;
  waves: string[][];
  /** The wave running now (failing over or back). */
  currentWave?: number;
  baseCloudHealthy: boolean;
  /** observedAt of the newest cloud verdict applied (older ones arriving late are ignored). */
  cloudSignalAt?: string;
  lastFailover?: PlanRun;
  lastFailback?: PlanRun;
  lastError?: string;
  updatedAt: string;
}

export interface EnvironmentDrillInput {
  envId: string;
  ownerId: string;
  drillId: string;
  members: EnvironmentDrMember[];
  settings?: Pick<EnvironmentDrSettings, 'waitSeconds'>;
}

export interface EnvironmentDrillReport extends PlanRun {
  drillId: string;
  envId: string;
  /** Every drill copy and the drill network were removed. */
  cleanedUp: boolean;
  network?: { name: string; networkId: string };
}
