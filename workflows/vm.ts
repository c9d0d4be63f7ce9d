/**
 * VM lifecycle workflows (UC-006/UC-007): createVm, updateVm, deleteVm. OpenStack VMs are Heat
 * stacks, CloudStack VMs are deployVirtualMachine instances; both are named `vmflow-<vmId>` so a
 * retried step finds what an earlier attempt made. A create that fails after resources were made
 * deletes them (saga compensation) and records why.
 */
import { CancellationScope, executeChild, getExternalWorkflowHandle, isCancellation, log, patched, ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { DR_SIGNALS, drWorkflowId } from '../src/contracts/dr';
import { BACKUP_WORKFLOW, type BackupInput, type BackupResult } from '../src/contracts/backup';
import {
  CREATE_VM_STEPS,
  DELETE_VM_STEPS,
  UPDATE_VM_STEPS,
  cloudResourceName,
  restoredImageName,
  type CreateVmInput,
  type DeleteVmInput,
  type UpdateVmInput,
  type VmFromBackup,
  type VmOperationResult,
  type VmPlacement,
} from '../src/contracts/vm';
import { Progress } from './lib/progress';
import type { WorkflowProgress } from '../src/contracts/progress';
import { withVmLease, type Lease } from './lib/ownership';
import { cloudCall, deletePoll, longTransfer, progressWrite, statusPoll, store } from './lib/activity-presets';
import { describeError } from './lib/task-graph';

type Undo = { what: string; run: () => Promise<unknown> };

/** Runs undos newest first; logs but never rethrows their errors (the original failure wins). */
async function compensate(undos: Undo[]): Promise<string[]> {
  const failed: string[] = [];
  await CancellationScope.nonCancellable(async () => {
    for (const undo of [...undos].reverse()) {
      try {
        await undo.run();
      } catch (err) {
        failed.push(`${undo.what}: ${describeError(err)}`);
        log.warn('compensation failed', { what: undo.what, error: describeError(err) });
      }
    }
  });
  return failed;
}

function rootMessage(err: unknown): string {
  let e: unknown = err;
  while (e instanceof ActivityFailure && e.cause) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}

/**
 * Runs recorded before the progress was written for readers (src/vms/operations.ts) replay
 * without those local activities; readers of such a run fall back to asking Temporal.
 */
const RECORD_PROGRESS_PATCH = 'progress-on-record';

/**
 * The operation's progress, written at every step boundary for readers (GET /vms/:id reads it
 * from the database instead of querying the workflow), and `fn` run with it; the last write lands
 * before the workflow ends.
 */
async function withRecordedProgress<T>(kind: string, steps: readonly string[], vm: { vmId: string; ownerId: string }, fn: (progress: Progress) => Promise<T>): Promise<T> {
  const record = patched(RECORD_PROGRESS_PATCH) ? (progress: WorkflowProgress) => progressWrite.recordOperationProgress({ vmId: vm.vmId, ownerId: vm.ownerId, progress }) : undefined;
  const progress = new Progress(kind, steps, record);
  try {
    return await fn(progress);
  } finally {
    await progress.flush();
  }
}

export async function createVm(input: CreateVmInput): Promise<VmOperationResult> {
  return withVmLease(input.vmId, 'create', {}, () => withRecordedProgress('createVm', CREATE_VM_STEPS, input, (progress) => createVmHoldingLease(input, progress)));
}

async function createVmHoldingLease(input: CreateVmInput, progress: Progress): Promise<VmOperationResult> {
  const undos: Undo[] = [];
  const name = cloudResourceName(input.vmId);
  try {
    let placement: VmPlacement;
    if (input.cloud === 'openstack') {
      progress.start('render');
      const rendered = await store.renderOpenStackVm({ vmId: input.vmId, ownerId: input.ownerId, requirements: input.requirements, ...(input.network ? { network: input.network } : {}) });
      const image = input.fromBackup ? await importBackupImage(input, input.fromBackup, progress, undos) : undefined;
      progress.start('create', `Heat stack ${name}`);
      const parameters = image ? { ...rendered.parameters, image } : rendered.parameters;
      const stack = await cloudCall.osEnsureStack({ accountId: input.accountId, stackName: name, template: rendered.template, parameters, tags: ['vmflow', `vm-${input.vmId}`] });
      undos.push({
        what: `delete stack ${name}`,
        run: async () => {
          await cloudCall.osDeleteStack({ accountId: input.accountId, stackName: name, stackId: stack.stackId });
          await statusPoll.osAwaitStack({ accountId: input.accountId, stackName: name, stackId: stack.stackId, action: 'DELETE' });
        },
      });
      progress.start('wait', 'stack CREATE_IN_PROGRESS');
      await statusPoll.osAwaitStack({ accountId: input.accountId, stackName: stack.stackName, stackId: stack.stackId, action: 'CREATE' });
      progress.start('read-back');
      placement = await cloudCall.osReadServer({ accountId: input.accountId, stackName: stack.stackName, stackId: stack.stackId });
    } else {
      progress.start('render');
      progress.start('create', `CloudStack VM ${name}`);
      const vm = await cloudCall.csEnsureVm({ accountId: input.accountId, vmId: input.vmId, name, requirements: input.requirements, startVm: true, ...(input.network ? { network: input.network } : {}) });
      undos.push({
        what: `destroy CloudStack VM ${name}`,
        run: async () => {
          await cloudCall.csDestroyVm({ accountId: input.accountId, name, csVmId: vm.csVmId });
          await statusPoll.csAwaitVm({ accountId: input.accountId, csVmId: vm.csVmId, target: 'Gone' });
        },
      });
      progress.start('wait', 'deploying');
      await statusPoll.csAwaitVm({ accountId: input.accountId, csVmId: vm.csVmId, jobId: vm.jobId, target: 'Running' });
      progress.start('read-back');
      placement = await cloudCall.csReadVm({ accountId: input.accountId, csVmId: vm.csVmId });
    }
    progress.start('persist');
    await store.setVmState({ vmId: input.vmId, to: 'active', reason: 'created', placement, lastError: null });
    progress.complete();
    return { vmId: input.vmId, state: 'active', placement };
  } catch (err) {
    progress.compensating(err);
    const undoFailures = await compensate(undos);
    const why = rootMessage(err) + (undoFailures.length ? ` (clean-up failed: ${undoFailures.join('; ')})` : '');
    await CancellationScope.nonCancellable(() =>
      store.setVmState({ vmId: input.vmId, to: 'failed', reason: isCancellation(err) ? 'create cancelled' : 'create failed', lastError: why, placement: null }),
    );
    progress.fail(err);
    throw err;
  }
}

/**
 * A VM restored from a backup (its environment restored from a group point): the backup's copy in
 * the image store becomes a Glance image named after the new VM (found again by a retry; swept
 * with the VM's other images when it is deleted, and removed if the create fails).
 */
async function importBackupImage(input: CreateVmInput, from: VmFromBackup, progress: Progress, undos: Undo[]): Promise<string> {
  progress.detail(`importing backup ${from.backupId} from the image store`);
  const imported = await longTransfer.glanceImportFromStore({
    accountId: input.accountId,
    imageName: restoredImageName(input.vmId, from.backupId),
    storeKey: from.storeKey,
    ttlSeconds: 6 * 3600,
    properties: { vmflow_vm_id: input.vmId, vmflow_restored_from: from.backupId },
  });
  undos.push({ what: `delete image ${imported.imageId}`, run: async () => void (await cloudCall.osDeleteImage({ accountId: input.accountId, imageId: imported.imageId })) });
  return imported.imageId;
}

/**
 * Runs recorded before a failed update completed with its error (instead of failing the workflow)
 * replay the old way.
 */
const UPDATE_FAILURE_PATCH = 'update-failure-is-a-result';
/** Deletes recorded before their sweep was retried through long outages (deletePoll) replay with statusPoll's budget. */
const DELETE_OUTLASTS_OUTAGES_PATCH = 'delete-outlasts-outages';

/**
 * An update that could not be applied (the server broke meanwhile, the cloud refused) is news for
 * the member, recorded on the VM (lastError, history) and in the result — not a crash of the
 * workflow. A cancellation still ends it as cancelled.
 */
function failedUpdate(err: unknown, vmId: string, placement: VmPlacement): VmOperationResult | undefined {
  if (isCancellation(err) || !patched(UPDATE_FAILURE_PATCH)) return undefined;
  return { vmId, state: 'active', placement, error: rootMessage(err) };
}

export async function updateVm(input: UpdateVmInput): Promise<VmOperationResult> {
  return withVmLease(input.vmId, 'update', {}, (lease) => withRecordedProgress('updateVm', UPDATE_VM_STEPS, input, (progress) => updateVmHoldingLease(input, lease, progress)));
}

async function updateVmHoldingLease(input: UpdateVmInput, lease: Lease, progress: Progress): Promise<VmOperationResult> {
  const withOwner = lease.leaseId !== undefined;
  const vm = await store.getVm({ vmId: input.vmId });
  const placement0 = vm.placement;
  if (withOwner && (vm.state === 'deleting' || vm.state === 'deleted')) {
    // Deleted while this update waited for the VM: nothing is left to change.
    progress.error(`not applied: the VM was ${vm.state} meanwhile`);
    progress.complete();
    return { vmId: input.vmId, state: vm.state };
  }
  if (!placement0) throw ApplicationFailure.nonRetryable(`VM ${input.vmId} has no placement to update`, 'VmNotActive');
  const stackless = placement0.cloud === 'openstack' && vm.cloud === 'openstack' && !placement0.stackId;
  const onlySize = JSON.stringify({ ...vm.requirements, size: input.requirements.size }) === JSON.stringify(input.requirements);
  if (withOwner && stackless && onlySize) {
    // It runs on a promoted standby no stack owns: Nova resizes that server itself.
    try {
      await store.setVmState({ vmId: input.vmId, to: 'updating', reason: `resize for revision ${input.revision}`, revision: input.revision });
      progress.start('render');
      const rendered = await store.renderOpenStackVm({ vmId: input.vmId, ownerId: input.ownerId, requirements: input.requirements });
      progress.start('update', `Nova resize of ${placement0.serverId} to ${String(rendered.parameters.flavor)}`);
      const placement = await statusPoll.osResizeServer({ accountId: placement0.accountId, serverId: placement0.serverId, flavorName: String(rendered.parameters.flavor) });
      progress.start('persist');
      await store.setVmState({ vmId: input.vmId, to: 'active', reason: `resized to ${input.requirements.size} (revision ${input.revision})`, placement, requirements: input.requirements, lastError: null });
      progress.complete();
      return { vmId: input.vmId, state: 'active', placement };
    } catch (err) {
      progress.fail(err);
      const stopped = isCancellation(err) ? `resize to ${input.requirements.size} stopped: disaster recovery needed the VM; ask again once it is protected` : undefined;
      await CancellationScope.nonCancellable(() => store.setVmState({ vmId: input.vmId, to: 'active', reason: stopped ?? `resize to ${input.requirements.size} failed`, lastError: stopped ?? rootMessage(err) }));
      const failed = failedUpdate(err, input.vmId, placement0);
      if (failed) return failed;
      throw err;
    }
  }
  if (withOwner && (placement0.cloud !== vm.cloud || stackless)) {
    // A failover ran while this update waited for the VM: it now runs on a standby, where only a
    // resize can be applied. The change is refused and recorded; it can be asked again after failback.
    const why = `update to revision ${input.revision} not applied: the VM failed over meanwhile and runs on a disaster-recovery standby; ask again after failback`;
    await store.setVmState({ vmId: input.vmId, to: vm.state, reason: why, lastError: why });
    progress.error(why);
    progress.complete();
    return { vmId: input.vmId, state: vm.state, placement: placement0 };
  }
  if (withOwner && input.backupFirst) {
    // The change replaces the server: the member confirmed it, and the old disk is backed up first
    // (under this workflow's lease). Without that backup the server is not replaced.
    progress.detail('backing up before the server is replaced');
    const backup: BackupResult = await executeChild(BACKUP_WORKFLOW, {
      workflowId: `vm-backup:${input.vmId}:before-update-${input.revision}`,
      args: [{ vmId: input.vmId, ownerId: input.ownerId, trigger: 'manual', lease: lease.leaseId } satisfies BackupInput],
    });
    if (backup.status !== 'succeeded' && backup.status !== 'partial') {
      const why = `update to revision ${input.revision} not applied: the backup taken before replacing the server did not succeed (${backup.status}${backup.reason ? `: ${backup.reason}` : ''})`;
      await store.setVmState({ vmId: input.vmId, to: vm.state, reason: why, lastError: why });
      progress.error(why);
      progress.complete();
      return { vmId: input.vmId, state: vm.state, placement: placement0 };
    }
  }
  try {
    await store.setVmState({ vmId: input.vmId, to: 'updating', reason: `update to revision ${input.revision}`, revision: input.revision });
    let placement: VmPlacement;
    if (placement0.cloud === 'openstack') {
      progress.start('render');
      const rendered = await store.renderOpenStackVm({ vmId: input.vmId, ownerId: input.ownerId, requirements: input.requirements });
      const handle = { accountId: placement0.accountId, stackName: placement0.stackName!, stackId: placement0.stackId! };
      progress.start('update', `Heat stack ${handle.stackName}`);
      // PATCH keeps parameters left out: the image stays what it is (a restore may have set a backup image).
      const { image: _image, ...parameters } = rendered.parameters;
      await cloudCall.osUpdateStack({ ...handle, template: rendered.template, parameters });
      progress.start('wait', 'stack UPDATE_IN_PROGRESS');
      await statusPoll.osAwaitStack({ ...handle, action: 'UPDATE' });
      progress.start('read-back');
      placement = await cloudCall.osReadServer(handle);
    } else {
      progress.start('render');
      progress.start('update', `CloudStack VM ${placement0.serverId}`);
      await cloudCall.csUpdateVm({ accountId: placement0.accountId, csVmId: placement0.serverId, requirements: input.requirements });
      progress.start('wait');
      await statusPoll.csAwaitVm({ accountId: placement0.accountId, csVmId: placement0.serverId, target: 'Running' });
      progress.start('read-back');
      placement = await cloudCall.csReadVm({ accountId: placement0.accountId, csVmId: placement0.serverId });
    }
    progress.start('persist');
    await store.setVmState({ vmId: input.vmId, to: 'active', reason: `updated to revision ${input.revision}`, placement, requirements: input.requirements, lastError: null });
    progress.complete();
    return { vmId: input.vmId, state: 'active', placement };
  } catch (err) {
    progress.fail(err);
    // The VM keeps running on its previous configuration; the failure is recorded, not hidden.
    // Cancelled: a failover took the VM over (workflows/owner.ts); the member may ask again.
    const stopped = isCancellation(err) ? `update to revision ${input.revision} stopped: disaster recovery needed the VM; ask again once it is protected` : undefined;
    await CancellationScope.nonCancellable(() =>
      store.setVmState({ vmId: input.vmId, to: 'active', reason: stopped ?? `update to revision ${input.revision} failed`, lastError: stopped ?? rootMessage(err) }),
    );
    const failed = failedUpdate(err, input.vmId, placement0);
    if (failed) return failed;
    throw err;
  }
}

export async function deleteVm(input: DeleteVmInput): Promise<VmOperationResult> {
  return withVmLease(input.vmId, 'delete', {}, (lease) => withRecordedProgress('deleteVm', DELETE_VM_STEPS, input, (progress) => deleteVmHoldingLease(input, lease.leaseId !== undefined, progress)));
}

async function deleteVmHoldingLease(input: DeleteVmInput, withOwner: boolean, progress: Progress): Promise<VmOperationResult> {
  const vm = await store.getVm({ vmId: input.vmId });
  const name = cloudResourceName(input.vmId);
  try {
    await store.setVmState({ vmId: input.vmId, to: 'deleting', reason: 'delete requested' });
    progress.start('stop-backups');
    await store.removeBackupSchedule({ vmId: input.vmId });
    await stopProtection(input.vmId);
    progress.start('delete');
    if (vm.cloud === 'openstack') {
      const gone = await cloudCall.osDeleteStack({ accountId: vm.accountId, stackName: name, stackId: vm.placement?.stackId });
      progress.start('wait-gone', 'stack DELETE_IN_PROGRESS');
      if (gone.stackId) await statusPoll.osAwaitStack({ accountId: vm.accountId, stackName: name, stackId: gone.stackId, action: 'DELETE' });
    } else {
      const gone = await cloudCall.csDestroyVm({ accountId: vm.accountId, name, csVmId: vm.placement?.serverId });
      progress.start('wait-gone');
      if (gone.csVmId) await statusPoll.csAwaitVm({ accountId: vm.accountId, csVmId: gone.csVmId, target: 'Gone' });
    }
    // After a failover the VM may run on a server no stack owns (a promoted standby in either cloud).
    const p = vm.placement;
    if (p && !(p.cloud === vm.cloud && (p.stackId || vm.cloud === 'cloudstack'))) {
      if (p.cloud === 'openstack') await statusPoll.osDeleteServer({ accountId: p.accountId, serverId: p.serverId });
      else await statusPoll.csDestroyStandby({ accountId: p.accountId, csVmId: p.serverId });
    }
    progress.start('remove-backups');
    if (withOwner) {
      // First whatever carries the VM's name — standbys (also one a cancelled backup made after it
      // gave way), an old promoted primary, a copy rebuilt after a loss — instances before the
      // templates they were made from (CloudStack refuses to delete a template in use), then images
      // and templates. The recorded artifacts below are then already gone (deletes are idempotent).
      const accounts = await store.backupPlan({ vmId: input.vmId, trigger: 'manual' });
      // Deletes recorded before the sweep outlasted outages replay with the old retry budget.
      const sweep = patched(DELETE_OUTLASTS_OUTAGES_PATCH) ? deletePoll : statusPoll;
      await sweep.sweepVmLeftovers({
        vmId: input.vmId,
        mode: 'everything',
        ...(input.keepBackupId ? { keepBackupIds: [input.keepBackupId] } : {}),
        // Each account in the cloud it belongs to: a CloudStack VM's own account, its backup account, …
        openstackAccountIds: [vm, vm.placement].filter((x) => x?.cloud === 'openstack').map((x) => x!.accountId),
        cloudstackAccountIds: [...(vm.cloud === 'openstack' ? [accounts.backupAccountId] : []), ...[vm, vm.placement].filter((x) => x?.cloud === 'cloudstack').map((x) => x!.accountId)],
      });
    }
    await removeBackups(input.vmId, input.keepBackupId);
    progress.start('persist');
    await store.setVmState({ vmId: input.vmId, to: 'deleted', reason: 'deleted', placement: null });
    progress.complete();
    return { vmId: input.vmId, state: 'deleted' };
  } catch (err) {
    progress.fail(err);
    await CancellationScope.nonCancellable(() => store.setVmState({ vmId: input.vmId, to: 'failed', reason: 'delete failed', lastError: rootMessage(err) }));
    throw err;
  }
}


/**
 * Deletes the VM's standbys and every backup image, template and store copy (nothing is leaked)
 * — except the store copy of `keep` (the final backup its environment's destroy took), which
 * outlives the VM outside both clouds.
 */
async function removeBackups(vmId: string, keep?: string): Promise<void> {
  const left = await store.allBackupArtifacts({ vmId });
  if (left.baseStandby) await statusPoll.osDeleteServer(left.baseStandby);
  if (left.backupCloudStandby) await statusPoll.csDestroyStandby(left.backupCloudStandby);
  for (const c of left.candidates) {
    if (c.imageId && c.imageAccountId) await cloudCall.osDeleteImage({ accountId: c.imageAccountId, imageId: c.imageId });
    if (c.templateId && c.templateAccountId) await cloudCall.csDeleteTemplate({ accountId: c.templateAccountId, templateId: c.templateId });
    if (c.backupId === keep) {
      await store.preserveBackup({ backupId: c.backupId });
      continue;
    }
    if (c.storeKey) await cloudCall.storeDeleteImage({ key: c.storeKey });
    await store.retireBackup({ backupId: c.backupId });
  }
}

/** Ends the VM's disaster-recovery workflow (if any) and its protection record. */
async function stopProtection(vmId: string): Promise<void> {
  await store.disableProtection({ vmId });
  try {
    await getExternalWorkflowHandle(drWorkflowId(vmId)).signal(DR_SIGNALS.stop);
  } catch {
    // not protected, or already stopped
  }
}
