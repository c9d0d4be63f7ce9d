/**
 * Contract of the environment workflows (createEnvironment, destroyEnvironment): several VMs on
 * their own private network, created and destroyed as one task graph. Imported by workflows,
 * activities and API; no I/O.
 */
import type { CloudKind, VmFromBackup } from './vm';
import type { VmRequirements } from '../templates/requirements';
import type { TaskProgress } from './progress';

export const CREATE_ENVIRONMENT_WORKFLOW = 'createEnvironment';
export const DESTROY_ENVIRONMENT_WORKFLOW = 'destroyEnvironment';

export const createEnvironmentWorkflowId = (envId: string): string => `env-create:${envId}`;
export const destroyEnvironmentWorkflowId = (envId: string): string => `env-destroy:${envId}`;
/** The n-th retry (1, 2, …) of a partial environment's failed members. */
export const retryEnvironmentWorkflowId = (envId: string, n: number): string => `env-create:${envId}:retry-${n}`;

/**
 * The environment's private network (and, on OpenStack, the Heat stack that owns its net, subnet,
 * router and interface) is named after the environment, so a retried step finds what an earlier
 * attempt made.
 */
export const environmentNetworkName = (envId: string): string => `vmflow-env-${envId}`;

/** What a member does when it fails: the environment removes everything it made, or keeps the rest. */
export const ON_MEMBER_FAILURE = ['rollback', 'keep'] as const;
export type OnMemberFailure = (typeof ON_MEMBER_FAILURE)[number];

export const ENVIRONMENT_STATES = ['creating', 'active', 'partial', 'failed', 'destroying', 'destroyed'] as const;
export type EnvironmentState = (typeof ENVIRONMENT_STATES)[number];

/** Task names in the graphs (recorded on the environment, shown by GET /environments/:id). */
export const NETWORK_TASK = 'network';
export const RECORD_TASK = 'record';
/** The destroy's first step: members with a backup policy are backed up once more ("preserve the data"). */
export const FINAL_BACKUP_TASK = 'final-backup';
/** Then the recovery plan ends (after the final backup: a destroy it stops leaves the plan running). */
export const STOP_PLAN_TASK = 'stop-plan';
export const memberTask = (member: string): string => `member:${member}`;

export interface EnvironmentMemberPlan {
  /** The member's name inside the environment (what `requires` refers to). */
  name: string;
  /** The VM the API admitted for it (state `creating`, quota counted). */
  vmId: string;
  requires: string[];
  requirements: VmRequirements;
  /** The backup whose image-store copy the member boots from (an environment restored from a group point). */
  fromBackup?: VmFromBackup;
}

export interface EnvironmentInput {
  envId: string;
  ownerId: string;
  cloud: CloudKind;
  accountId: string;
  onMemberFailure: OnMemberFailure;
  members: EnvironmentMemberPlan[];
  /**
   * A retry of a `partial` environment (POST /environments/:id/retry): members whose VM is
   * already active are left as they are; the failed ones are created again (their VMs' createVm
   * runs anew under the same workflow ids, which the failed runs left free).
   */
  retry?: boolean;
}

/** What the destroy graph needs: the members (with what they require) and where they are. */
export interface DestroyEnvironmentInput {
  envId: string;
  ownerId: string;
  cloud: CloudKind;
  accountId: string;
  members: Array<{ name: string; vmId: string; requires: string[] }>;
  /**
   * Default true: members with a backup policy (the group's, or their own) are backed up once
   * more before anything is deleted, and their copies in the image store are kept; if that
   * backup falls short, nothing is deleted. false: skip it (the data goes with the members).
   */
  finalBackup?: boolean;
}

/** Where the environment's network is: its name, the cloud's id of the network and (OpenStack) its stack. */
export interface EnvironmentNetwork {
  name: string;
  networkId: string;
  stackId?: string;
}

export interface EnvironmentResult {
  envId: string;
  state: EnvironmentState;
  failedMembers: string[];
  tasks: TaskProgress[];
}
