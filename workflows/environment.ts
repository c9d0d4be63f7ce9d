/**
 * Environments: several VMs on their own private network, created and destroyed as one graph on
 * the task-graph executor (workflows/lib/task-graph.ts).
 *
 *   create:  network ─▶ members whose requirements are met, in parallel ─▶ joins ─▶ record
 *   destroy: final backup ─▶ members in reverse dependency order ─▶ network ─▶ record
 *
 * Each member is an ordinary VM: the API admitted it (quota, record) and its createVm / deleteVm
 * workflow runs here as a child — the same workflows, under the same VM lease, as POST and
 * DELETE /vms. A member that fails: `rollback` stops starting members and runs the destroy graph
 * over everything the environment made; `keep` lets the other branches finish and keeps what was
 * created, naming the failed members. The environment record carries the graph's task states,
 * written at every step boundary, for readers.
 */
import { ApplicationFailure, CancellationScope, ParentClosePolicy, executeChild, isCancellation, patched, workflowInfo, WorkflowIdReusePolicy } from '@temporalio/workflow';
import { TypedSearchAttributes } from '@temporalio/common';
import {
  FINAL_BACKUP_TASK,
  NETWORK_TASK,
  STOP_PLAN_TASK,
  RECORD_TASK,
  environmentNetworkName,
  memberTask,
  type EnvironmentInput,
  type EnvironmentMemberPlan,
  type EnvironmentNetwork,
  type EnvironmentResult,
  type EnvironmentState,
  type DestroyEnvironmentInput,
} from '../src/contracts/environment';
import {
  CREATE_VM_WORKFLOW,
  DELETE_VM_WORKFLOW,
  createVmWorkflowId,
  deleteVmWorkflowId,
  type CloudKind,
  type CreateVmInput,
  type DeleteVmInput,
  type VmOperationResult,
} from '../src/contracts/vm';
import type { TaskProgress } from '../src/contracts/progress';
import { BACKUP_ENVIRONMENT_WORKFLOW, finalEnvironmentBackupWorkflowId, type EnvironmentBackupInput, type EnvironmentBackupResult } from '../src/contracts/environment-backup';
import { VMFLOW_CLOUD_KEY, VMFLOW_OWNER_KEY, VMFLOW_VM_KEY } from '../src/vms/search';
import { cloudCall, deletePoll, progressWrite, statusPoll, store } from './lib/activity-presets';
import { Progress } from './lib/progress';
import { describeError, runTaskGraph, type TaskGraphResult, type TaskSpec } from './lib/task-graph';

type GraphKind = 'create' | 'rollback' | 'destroy';

/**
 * The destroy graph (and a roll-back) also removes the environment's group backup schedule and
 * policy (workflows/environment-backup.ts) before the record: nothing is left to start group runs.
 * Histories recorded before it replay without that step.
 */
const GROUP_SCHEDULE_PATCH = 'env-destroy-removes-group-schedule';

/**
 * "Preserve the data first": a destroy begins with one more group backup of the members that
 * have a policy (the group's, or their own), taken by backupEnvironment with trigger `final` —
 * snapshots and their image-store copies only. Each member's delete then keeps that copy (its
 * cloud copies go: nothing is left in either cloud). If the backup falls short, nothing is
 * deleted: the destroy fails naming the members, and may be run again (or without the backup).
 * Histories recorded before it replay without that step.
 */
const FINAL_BACKUP_PATCH = 'env-destroy-final-backup';

/**
 * The destroy graph ends the environment's recovery plan itself, after the final backup and before
 * any member goes (the API used to stop it when the destroy was asked for, so a destroy stopped
 * by its final backup left the environment without its plan). Histories from before replay without it.
 */
const STOP_PLAN_PATCH = 'env-destroy-stops-plan';

export async function createEnvironment(input: EnvironmentInput): Promise<EnvironmentResult> {
  const progress = new Progress('createEnvironment', ['create', 'rollback']);
  const made: { network?: EnvironmentNetwork } = {};
  // A retry leaves the members that run as they are (only a retry reads this: runs before it replay unchanged).
  const running = new Set(input.retry ? (await store.environmentMemberStates({ envId: input.envId })).filter((m) => m.state === 'active').map((m) => m.vmId) : []);
  const tasks: TaskSpec<void>[] = [
    {
      name: NETWORK_TASK,
      run: async () => {
        made.network = await ensureNetwork(input);
        await store.recordEnvironment({ envId: input.envId, network: made.network });
        return made.network;
      },
    },
    ...input.members.map(
      (m): TaskSpec<void> => ({
        name: memberTask(m.name),
        requires: [NETWORK_TASK, ...m.requires.map(memberTask)],
        run: async () => (running.has(m.vmId) ? { vmId: m.vmId, state: 'active' } : createMember(input, m)),
      }),
    ),
    {
      name: RECORD_TASK,
      requires: input.members.map((m) => memberTask(m.name)),
      run: () => store.recordEnvironment({ envId: input.envId, failedMembers: [], lastError: null }),
    },
  ];

  let created: TaskGraphResult;
  try {
    // Rollback: nothing new starts after a failure (it would only be removed again).
    created = await runRecordedGraph(input.envId, 'create', tasks, progress, input.onMemberFailure === 'keep');
  } catch (err) {
    if (isCancellation(err)) await CancellationScope.nonCancellable(() => store.recordEnvironment({ envId: input.envId, state: 'failed', lastError: 'create cancelled' }));
    throw err;
  }
  if (created.ok) {
    // The state last, after the graph's final write: a reader who sees `active` sees every task done.
    await store.recordEnvironment({ envId: input.envId, state: 'active' });
    progress.complete();
    return { envId: input.envId, state: 'active', failedMembers: [], tasks: created.statuses };
  }

  const failedMembers = input.members.filter((m) => created.failures.some((f) => f.task === memberTask(m.name))).map((m) => m.name);
  const why = created.failures.map((f) => `${f.task}: ${f.error}`).join('; ');
  progress.error(why);
  if (input.onMemberFailure === 'keep' && made.network) {
    // What was created stays; members that never started (a member they require failed) are
    // recorded as failed on their VMs, so the member sees why and may delete them.
    for (const m of input.members) {
      const s = created.statuses.find((t) => t.name === memberTask(m.name));
      if (s?.state === 'skipped') await store.setVmState({ vmId: m.vmId, to: 'failed', reason: 'not created: a member it requires failed', lastError: s.error ?? 'skipped' });
    }
    await store.recordEnvironment({ envId: input.envId, state: 'partial', failedMembers, lastError: why });
    progress.complete();
    return { envId: input.envId, state: 'partial', failedMembers, tasks: created.statuses };
  }

  await store.recordEnvironment({ envId: input.envId, failedMembers, lastError: why });
  progress.start('rollback');
  const undone = await destroyGraph({ envId: input.envId, ownerId: input.ownerId, cloud: input.cloud, accountId: input.accountId, members: input.members }, 'rollback', progress);
  const state: EnvironmentState = 'failed';
  await store.recordEnvironment({ envId: input.envId, state, ...(undone.ok ? {} : { lastError: `${why}; roll-back incomplete: ${undone.failures.map((f) => `${f.task}: ${f.error}`).join('; ')}` }) });
  progress.complete();
  return { envId: input.envId, state, failedMembers, tasks: undone.statuses };
}

export async function destroyEnvironment(input: DestroyEnvironmentInput): Promise<EnvironmentResult> {
  const progress = new Progress('destroyEnvironment', ['destroy']);
  await store.recordEnvironment({ envId: input.envId, state: 'destroying', lastError: null });
  const result = await destroyGraph(input, 'destroy', progress);
  const finalBackup = result.statuses.find((t) => t.name === FINAL_BACKUP_TASK);
  if (finalBackup?.state === 'failed') {
    // Stopped before anything was deleted: the environment runs on as it was, its group schedule back.
    const why = finalBackup.error ?? 'the final backup fell short';
    const members = await store.environmentMemberStates({ envId: input.envId });
    await store.resumeEnvironmentBackupSchedule({ envId: input.envId });
    const state: EnvironmentState = members.every((m) => m.state === 'active') ? 'active' : 'partial';
    await store.recordEnvironment({ envId: input.envId, state, lastError: `destroy stopped: ${FINAL_BACKUP_TASK}: ${why}` });
    progress.fail(why);
    return { envId: input.envId, state, failedMembers: [], tasks: result.statuses };
  }
  if (!result.ok) {
    const why = result.failures.map((f) => `${f.task}: ${f.error}`).join('; ');
    await store.recordEnvironment({ envId: input.envId, state: 'failed', lastError: `destroy incomplete: ${why}` });
    progress.fail(why);
    return { envId: input.envId, state: 'failed', failedMembers: [], tasks: result.statuses };
  }
  await store.recordEnvironment({ envId: input.envId, state: 'destroyed' });
  progress.complete();
  return { envId: input.envId, state: 'destroyed', failedMembers: [], tasks: result.statuses };
}

/**
 * The reverse graph: a member is deleted once every member that requires it is gone, the network
 * once every member is gone, the record last (its state is written by the caller after the
 * graph's final write). Members already deleted (or never admitted) are
 * passed over; the others go through deleteVm (also those never created: it removes their record's
 * claim on the quota the same way).
 */
async function destroyGraph(env: DestroyEnvironmentInput, kind: 'rollback' | 'destroy', progress: Progress): Promise<TaskGraphResult> {
  const removeGroupSchedule = patched(GROUP_SCHEDULE_PATCH);
  const finalBackup = kind === 'destroy' && env.finalBackup !== false && patched(FINAL_BACKUP_PATCH);
  const stopPlan = kind === 'destroy' && patched(STOP_PLAN_PATCH);
  /** What every member's delete waits for. */
  const first = stopPlan ? [STOP_PLAN_TASK] : finalBackup ? [FINAL_BACKUP_TASK] : [];
  const states = new Map((await store.environmentMemberStates({ envId: env.envId })).map((m) => [m.vmId, m.state]));
  const dependents = (name: string) => env.members.filter((m) => m.requires.includes(name)).map((m) => memberTask(m.name));
  /** Each member's final backup, whose store copy its delete keeps. */
  const kept = new Map<string, string>();
  const tasks: TaskSpec<void>[] = [
    ...(finalBackup ? [{ name: FINAL_BACKUP_TASK, run: () => takeFinalBackup(env, kept) }] : []),
    ...(stopPlan ? [{ name: STOP_PLAN_TASK, requires: finalBackup ? [FINAL_BACKUP_TASK] : [], run: () => store.stopEnvironmentPlan({ envId: env.envId }) }] : []),
    ...env.members.map(
      (m): TaskSpec<void> => ({
        name: memberTask(m.name),
        requires: [...first, ...dependents(m.name)],
        run: async () => {
          const state = states.get(m.vmId);
          if (state === 'deleted' || state === 'missing') return { vmId: m.vmId, state: 'deleted' };
          return deleteMember(env, m, kept.get(m.vmId));
        },
      }),
    ),
    { name: NETWORK_TASK, requires: env.members.map((m) => memberTask(m.name)), run: () => removeNetwork(env) },
    {
      name: RECORD_TASK,
      requires: [NETWORK_TASK],
      run: async () => {
        if (removeGroupSchedule) await store.removeEnvironmentBackupSchedule({ envId: env.envId });
        await store.recordEnvironment({ envId: env.envId, network: null });
      },
    },
  ];
  return runRecordedGraph(env.envId, kind, tasks, progress, true);
}

/** Runs the graph with its task states written to the environment record at every change. */
async function runRecordedGraph(envId: string, kind: GraphKind, tasks: TaskSpec<void>[], progress: Progress, continueOnFailure: boolean): Promise<TaskGraphResult> {
  let written: Promise<void> = Promise.resolve();
  let last = '';
  const record = (statuses: TaskProgress[]): void => {
    progress.tasks(statuses);
    const text = JSON.stringify(statuses);
    if (text === last) return;
    last = text;
    // For readers only: a lost write is a stale view, never a failed environment.
    written = written
      .then(() => CancellationScope.nonCancellable(() => progressWrite.recordEnvironmentGraph({ envId, kind, tasks: statuses })))
      .then(
        () => undefined,
        () => undefined,
      );
  };
  try {
    return await runTaskGraph(tasks, undefined, { onChange: record, now: () => new Date().toISOString(), continueOnFailure });
  } finally {
    await written;
  }
}

function vmChildOptions(ownerId: string, vmId: string, cloud: CloudKind) {
  return {
    typedSearchAttributes: new TypedSearchAttributes([
      { key: VMFLOW_OWNER_KEY, value: ownerId },
      { key: VMFLOW_VM_KEY, value: vmId },
      { key: VMFLOW_CLOUD_KEY, value: cloud },
    ]),
    memo: { ownerId, vmId },
    // The VM's own workflow ends on its own terms (its compensation, its lease) if the environment's is cancelled.
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
  };
}

/** A member's VM through the createVm workflow (its lease, records and compensation), on the environment's network. */
async function createMember(env: EnvironmentInput, m: EnvironmentMemberPlan): Promise<VmOperationResult> {
  const vm: CreateVmInput = {
    vmId: m.vmId,
    ownerId: env.ownerId,
    accountId: env.accountId,
    cloud: env.cloud,
    requirements: m.requirements,
    network: environmentNetworkName(env.envId),
    ...(m.fromBackup ? { fromBackup: m.fromBackup } : {}),
  };
  if (env.retry) await store.setVmState({ vmId: m.vmId, to: 'creating', reason: 'created again: the environment is retried', lastError: null });
  return executeChild(CREATE_VM_WORKFLOW, {
    workflowId: createVmWorkflowId(m.vmId),
    args: [vm],
    // A retry runs a member's create again where its earlier run failed (or never started).
    workflowIdReusePolicy: env.retry ? WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY : WorkflowIdReusePolicy.REJECT_DUPLICATE,
    ...vmChildOptions(env.ownerId, m.vmId, env.cloud),
  });
}

/**
 * The final group backup (backupEnvironment, trigger `final`) as a child. Nothing to preserve (no
 * member has a policy) is fine; a point that is not complete stops the destroy before any delete.
 */
async function takeFinalBackup(env: DestroyEnvironmentInput, kept: Map<string, string>): Promise<EnvironmentBackupResult> {
  const input: EnvironmentBackupInput = { envId: env.envId, ownerId: env.ownerId, trigger: 'final' };
  const point = await executeChild<(i: EnvironmentBackupInput) => Promise<EnvironmentBackupResult>>(BACKUP_ENVIRONMENT_WORKFLOW, {
    workflowId: finalEnvironmentBackupWorkflowId(env.envId, workflowInfo().runId),
    args: [input],
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    typedSearchAttributes: new TypedSearchAttributes([
      { key: VMFLOW_OWNER_KEY, value: env.ownerId },
      { key: VMFLOW_CLOUD_KEY, value: env.cloud },
    ]),
    memo: { ownerId: env.ownerId, envId: env.envId },
    parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
  });
  if (point.status === 'incomplete') {
    throw ApplicationFailure.nonRetryable(
      `the final backup fell short, so nothing was deleted (${point.reason ?? 'incomplete'}); destroy again to retry it, or with finalBackup=false to destroy without it`,
      'FinalBackupIncomplete',
    );
  }
  for (const m of point.members) if (m.backupId && m.status === 'succeeded') kept.set(m.vmId, m.backupId);
  return point;
}

/** A member's VM through the deleteVm workflow: its server, backups and standbys go (but for the final backup's store copy: `keepBackupId`). */
async function deleteMember(env: DestroyEnvironmentInput, m: { vmId: string }, keepBackupId?: string): Promise<VmOperationResult> {
  const vm: DeleteVmInput = { vmId: m.vmId, ownerId: env.ownerId, ...(keepBackupId ? { keepBackupId } : {}) };
  return executeChild(DELETE_VM_WORKFLOW, {
    workflowId: deleteVmWorkflowId(m.vmId),
    args: [vm],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    ...vmChildOptions(env.ownerId, m.vmId, env.cloud),
  });
}

/** OpenStack: the Heat stack of net, subnet, router and interface. CloudStack: an isolated network. */
async function ensureNetwork(env: EnvironmentInput): Promise<EnvironmentNetwork> {
  if (env.cloud === 'cloudstack') return cloudCall.csEnsureEnvironmentNetwork({ accountId: env.accountId, envId: env.envId });
  const rendered = await store.renderEnvironmentNetwork({ envId: env.envId });
  const stack = await cloudCall.osEnsureStack({ accountId: env.accountId, stackName: rendered.stackName, template: rendered.template, parameters: {}, tags: ['vmflow', `env-${env.envId}`] });
  try {
    await statusPoll.osAwaitStack({ accountId: env.accountId, stackName: stack.stackName, stackId: stack.stackId, action: 'CREATE' });
  } catch (err) {
    throw new Error(`network stack ${stack.stackName} was not created: ${describeError(err)}`, { cause: err });
  }
  return cloudCall.osReadEnvironmentNetwork({ accountId: env.accountId, stackName: stack.stackName, stackId: stack.stackId });
}

async function removeNetwork(env: DestroyEnvironmentInput): Promise<{ removed: boolean }> {
  if (env.cloud === 'cloudstack') return { removed: (await deletePoll.csRemoveEnvironmentNetwork({ accountId: env.accountId, envId: env.envId })).deleted > 0 };
  const gone = await cloudCall.osDeleteStack({ accountId: env.accountId, stackName: environmentNetworkName(env.envId) });
  if (gone.stackId) await statusPoll.osAwaitStack({ accountId: env.accountId, stackName: environmentNetworkName(env.envId), stackId: gone.stackId, action: 'DELETE' });
  return { removed: gone.existed };
}
