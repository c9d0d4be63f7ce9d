/**
 * backupVm (UC-008), run by the VM's Temporal Schedule or by hand. A task graph in the Mistral
 * reverse-workflow style of the source documents:
 *
 *   snapshot → await-image → record-metadata ─┬─ base-standby
 *                                              └─ export → register-template → await-template → backup-cloud-standby
 *
 * then retention and the backup record. A failed branch leaves the other branch's result usable
 * (the record says `partial`) and is simply tried again on the next run. Every cloud object is
 * named after the VM and backup id, so a retried or replayed step finds what it made before.
 */
import { ActivityFailure, ApplicationFailure, CancellationScope, getExternalWorkflowHandle, isCancellation, log, patched, uuid4 } from '@temporalio/workflow';
import { DR_SIGNALS, drWorkflowId, type DrLeftoverSignal } from '../src/contracts/dr';
import {
  BACKUP_TASKS,
  backupImageName,
  backupStoreKey,
  backupTemplateName,
  standbyName,
  type BackupInput,
  type BackupResult,
  type BackupStatus,
  type RestoreInput,
} from '../src/contracts/backup';
import { cloudResourceName, type VmPlacement } from '../src/contracts/vm';
import { Progress } from './lib/progress';
import { withVmLease } from './lib/ownership';
import { cloudCall, longTransfer, statusPoll, store } from './lib/activity-presets';
import { describeError, runTaskGraph, type TaskSpec } from './lib/task-graph';

/** How long a CloudStack download URL for an image stays valid. */
const TEMPLATE_URL_TTL_SECONDS = 6 * 3600;

export async function backupVm(input: BackupInput): Promise<BackupResult> {
  const progress = new Progress('backupVm', [...BACKUP_TASKS, 'retention', 'persist']);
  progress.detail('waiting for the VM (one operation at a time)');
  // A backup gives way to disaster recovery: the owner cancels it when a failover needs the VM.
  return withVmLease(input.vmId, 'backup', { inherited: input.lease }, (lease) => backupVmHoldingLease(input, progress, lease.leaseId !== undefined));
}

async function backupVmHoldingLease(input: BackupInput, progress: Progress, withOwner: boolean): Promise<BackupResult> {
  const backupId = uuid4();
  const plan = await store.backupPlan({ vmId: input.vmId, trigger: input.trigger });
  if (!plan.ok) {
    progress.complete();
    return { backupId, status: 'skipped', reason: plan.reason };
  }
  const { targets } = plan.policy;
  const now = () => new Date().toISOString();
  const imageName = backupImageName(input.vmId, backupId);
  // The graph's branches run in parallel, but their writes to this backup's record go one at a
  // time: FerretDB applies concurrent updates of one document non-atomically (a parallel $set of
  // another field can be lost), so the record keeps a single writer in flight.
  let recordWrites: Promise<void> = Promise.resolve();
  const updateRecord = (set: Parameters<typeof store.updateBackupRecord>[0]['set']): Promise<void> => {
    const next = recordWrites.then(() => store.updateBackupRecord({ backupId, set }));
    recordWrites = next.catch(() => undefined);
    return next;
  };

  const tasks: TaskSpec<null>[] = [
    {
      name: 'snapshot',
      run: () => cloudCall.osSnapshotServer({ accountId: plan.accountId, serverId: plan.serverId, imageName, metadata: { vmflow_vm_id: input.vmId, vmflow_backup_id: backupId } }),
    },
    {
      name: 'await-image',
      requires: ['snapshot'],
      run: (_, r) => statusPoll.osAwaitImage({ accountId: plan.accountId, imageId: (r.snapshot as { imageId: string }).imageId }),
    },
    {
      name: 'record-metadata',
      requires: ['await-image'],
      run: async (_, r) => {
        const imageId = (r.snapshot as { imageId: string }).imageId;
        const img = r['await-image'] as { size: number; checksum: string; osHashAlgo?: string; osHashValue?: string };
        const image = { id: imageId, name: imageName, size: img.size, checksum: img.checksum, osHashAlgo: img.osHashAlgo, osHashValue: img.osHashValue };
        await updateRecord({ image });
        return image;
      },
    },
  ];
  // A final backup (the VM is deleted next) is the image and its store copy, which outlives the VM.
  const final = input.trigger === 'final';
  const key = backupStoreKey(input.vmId, backupId);
  const exportTask: TaskSpec<null> = {
    name: 'export',
    requires: ['record-metadata'],
    run: async (_, r) => {
      const image = r['record-metadata'] as { id: string; checksum: string };
      const copied = await longTransfer.exportImageToStore({ accountId: plan.accountId, imageId: image.id, storeKey: key, expectedMd5: image.checksum });
      await updateRecord({ store: { key: copied.key, size: copied.size, sha256: copied.sha256, md5: copied.md5 } });
      return copied;
    },
  };
  if (final) tasks.push(exportTask);
  if (targets.baseStandby && !final) {
    tasks.push({
      name: 'base-standby',
      requires: ['record-metadata'],
      run: async (_, r) => {
        const image = r['record-metadata'] as { id: string };
        const name = standbyName(input.vmId);
        const made = await statusPoll.osEnsureStandby({ accountId: plan.accountId, name, imageId: image.id, flavorName: plan.flavorName, networkName: plan.networkName });
        await updateRecord({ baseStandby: { accountId: plan.accountId, serverId: made.serverId, name } });
        return made;
      },
    });
  }
  if (targets.backupCloudStandby && plan.backupAccountId && !final) {
    const templateName = backupTemplateName(input.vmId, backupId);
    tasks.push(
      exportTask,
      {
        name: 'register-template',
        requires: ['export'],
        run: (_, r) =>
          cloudCall.csRegisterTemplateFromStore({
            accountId: plan.backupAccountId,
            templateName,
            storeKey: key,
            ttlSeconds: TEMPLATE_URL_TTL_SECONDS,
            checksum: (r.export as { md5: string }).md5,
          }),
      },
      {
        name: 'await-template',
        requires: ['register-template'],
        run: async (_, r) => {
          const templateId = (r['register-template'] as { templateId: string }).templateId;
          let done: { size: number };
          try {
            done = await statusPoll.csAwaitTemplate({ accountId: plan.backupAccountId, templateId });
          } catch (err) {
            // A template whose download failed, or was cut short because the run gave way to a
            // failover, is useless: remove it now (even when cancelled) rather than leak it.
            await CancellationScope.nonCancellable(() => cloudCall.csDeleteTemplate({ accountId: plan.backupAccountId, templateId, forced: true })).catch((e) => log.warn('could not delete a failed template', { templateId, error: describeError(e) }));
            throw err;
          }
          await updateRecord({ template: { accountId: plan.backupAccountId, id: templateId, name: templateName, size: done.size } });
          return { templateId };
        },
      },
      {
        name: 'backup-cloud-standby',
        requires: ['await-template'],
        run: async (_, r) => {
          const templateId = (r['await-template'] as { templateId: string }).templateId;
          const name = standbyName(input.vmId);
          const made = await statusPoll.csEnsureStandby({ accountId: plan.backupAccountId, name, templateId, serviceOfferingName: plan.serviceOfferingName });
          await updateRecord({ backupCloudStandby: { accountId: plan.backupAccountId, csVmId: made.csVmId, name } });
          return made;
        },
      },
    );
  }

  await store.startBackupRecord({
    backupId,
    vmId: input.vmId,
    ownerId: input.ownerId,
    trigger: input.trigger,
    source: { accountId: plan.accountId, serverId: plan.serverId, size: plan.size, os: plan.os },
    tasks: tasks.map((t) => ({ name: t.name, state: 'pending', requires: t.requires ?? [] })),
  });

  try {
    return await finishBackup();
  } catch (err) {
    if (isCancellation(err)) {
      // Preempted (or cancelled by hand): the record says so; what the run made stays recorded.
      await CancellationScope.nonCancellable(() => updateRecord({ status: 'cancelled', reason: 'cancelled: disaster recovery needed the VM, or the run was cancelled', finishedAt: now() }));
      progress.fail(err);
    }
    throw err;
  }

  async function finishBackup(): Promise<BackupResult> {
    const graph = await runTaskGraph(tasks, null, { onChange: (s) => progress.tasks(s), now });
    const imageMade = graph.statuses.find((s) => s.name === 'record-metadata')?.state === 'succeeded';
    const status: BackupStatus = graph.ok ? 'succeeded' : imageMade ? 'partial' : 'failed';
    const reason = graph.failures.map((f) => `${f.task}: ${f.error}`).join('; ') || undefined;
    if (reason) progress.error(reason);

    progress.start('retention');
    // A final backup keeps the others as they are: the VM's delete removes them next.
    const retired = final ? 0 : await applyRetention(input.vmId, plan.policy.retention, backupId);
    if (withOwner && !final) {
      // Holding the lease, no other backup of this VM runs: anything named as a backup that no
      // record keeps was left by an attempt that outlived its run (one that gave way to a failover).
      await cloudCall
        .sweepVmLeftovers({ vmId: input.vmId, mode: 'unrecorded-backups', openstackAccountIds: [plan.accountId], cloudstackAccountIds: plan.backupAccountId ? [plan.backupAccountId] : [] })
        .catch((err) => log.warn('could not sweep unrecorded backup artifacts; the next run tries again', { error: describeError(err) }));
    }

    progress.start('persist');
    await updateRecord({ status, ...(reason ? { reason } : {}), tasks: graph.statuses, finishedAt: now() });
    progress.complete();
    log.info('backup finished', { vmId: input.vmId, backupId, status, retired });
    return { backupId, status, ...(reason ? { reason } : {}) };
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'NotFound';
}

/** Deletes the cloud objects of backups beyond the newest `keep` good ones; a failed delete is retried next run. */
async function applyRetention(vmId: string, keep: number, currentBackupId: string): Promise<number> {
  const candidates = await store.retentionCandidates({ vmId, keep, currentBackupId });
  let retired = 0;
  for (const c of candidates) {
    try {
      if (c.imageId && c.imageAccountId) await cloudCall.osDeleteImage({ accountId: c.imageAccountId, imageId: c.imageId });
      if (c.templateId && c.templateAccountId) await cloudCall.csDeleteTemplate({ accountId: c.templateAccountId, templateId: c.templateId });
      if (c.storeKey) await cloudCall.storeDeleteImage({ key: c.storeKey });
      await store.retireBackup({ backupId: c.backupId });
      retired += 1;
    } catch (err) {
      log.warn('retention could not retire a backup; the next run tries again', { backupId: c.backupId, error: describeError(err) });
    }
  }
  return retired;
}

/** Restores recorded before a server they could not remove went to drVm replay the old way. */
const RESTORE_HANDS_OVER_LEFTOVER_PATCH = 'restore-hands-over-leftover';

/** Gives drVm a server to remove when its cloud answers; an unprotected VM has no drVm (deleteVm's sweep removes it then). */
async function handOverLeftover(vmId: string, leftover: DrLeftoverSignal): Promise<void> {
  try {
    await getExternalWorkflowHandle(drWorkflowId(vmId)).signal<[DrLeftoverSignal]>(DR_SIGNALS.leftover, leftover);
  } catch (err) {
    log.warn('no disaster-recovery workflow to hand the server over to; it stays until the VM is deleted', { vmId, serverId: leftover.id, error: describeError(err) });
  }
}

/**
 * restoreVm (the seed's first disaster scenario: the VM itself broke): rebuilds the VM in the base
 * cloud from a backup image by updating its Heat stack's `image` parameter; Heat replaces the
 * server, keeping the port (and so the addresses).
 */
export async function restoreVm(input: RestoreInput): Promise<BackupResult> {
  return withVmLease(input.vmId, 'restore', { inherited: input.lease }, (lease) => restoreVmHoldingLease(input, lease.leaseId !== undefined));
}

async function restoreVmHoldingLease(input: RestoreInput, withOwner: boolean): Promise<BackupResult> {
  const progress = new Progress('restoreVm', ['choose-backup', 'update', 'wait', 'read-back', 'persist']);
  const vm = await store.getVm({ vmId: input.vmId });
  const placement0 = vm.placement;
  if (withOwner && (vm.state === 'deleting' || vm.state === 'deleted')) {
    progress.complete();
    return { backupId: input.backupId ?? '', status: 'skipped', reason: `the VM was ${vm.state} while the restore waited for it` };
  }
  const inOwnStack = !!placement0 && placement0.cloud === 'openstack' && !!placement0.stackId && !!placement0.stackName;
  let handle: { accountId: string; stackName: string; stackId: string } | undefined = inOwnStack ? { accountId: placement0!.accountId, stackName: placement0!.stackName!, stackId: placement0!.stackId! } : undefined;
  /** A promoted standby the VM runs on: the restore brings the VM back into its own stack, and this one goes. */
  let leaving: { accountId: string; serverId: string } | undefined;
  if (!inOwnStack && withOwner) {
    if (placement0?.cloud === 'openstack' && vm.cloud === 'openstack') {
      const stackName = cloudResourceName(input.vmId);
      const home = await cloudCall.osFindStack({ accountId: vm.accountId, stackName });
      if (home.stackId) {
        handle = { accountId: vm.accountId, stackName, stackId: home.stackId };
        leaving = { accountId: placement0.accountId, serverId: placement0.serverId };
      }
    }
    if (!handle) {
      // A failover to the backup cloud ran while this restore waited (the API refuses one asked for then).
      progress.complete();
      return { backupId: input.backupId ?? '', status: 'skipped', reason: 'the VM runs in the backup cloud (no Heat stack to restore into); restore after failback' };
    }
  }
  if (!handle && (!placement0 || placement0.cloud !== 'openstack' || !placement0.stackId || !placement0.stackName)) {
    throw ApplicationFailure.nonRetryable('only VMs running in the base cloud (OpenStack) can be restored from a backup', 'NotRestorable');
  }
  progress.start('choose-backup');
  const chosen = await store.restorePlan({ vmId: input.vmId, backupId: input.backupId });
  handle ??= { accountId: placement0!.accountId, stackName: placement0!.stackName!, stackId: placement0!.stackId! };
  try {
    await store.setVmState({ vmId: input.vmId, to: 'updating', reason: `restore from backup ${chosen.backupId}` });
    progress.start('update', `image ${chosen.imageName}`);
    // Coming back from a promoted standby, the stack also takes the size the VM has now (it may
    // have been resized by Nova while it ran outside the stack).
    const flavor = leaving ? (await store.renderOpenStackVm({ vmId: input.vmId, ownerId: vm.ownerId, requirements: vm.requirements })).parameters.flavor : undefined;
    await cloudCall.osUpdateStack({ ...handle, parameters: { image: chosen.imageId, ...(flavor ? { flavor } : {}) } });
    progress.start('wait', 'stack UPDATE_IN_PROGRESS');
    await statusPoll.osAwaitStack({ ...handle, action: 'UPDATE' });
    progress.start('read-back');
    let placement: VmPlacement;
    try {
      placement = await cloudCall.osReadServer(handle);
    } catch (err) {
      if (!withOwner || !isNotFound(err)) throw err;
      // The stack's server vanished and the image did not change (the same backup again), so Heat
      // kept the dead resource: the stack is made anew from the backup (same name, new id).
      progress.start('update', 'rebuilding the stack: its server is gone');
      await cloudCall.osDeleteStack({ accountId: handle.accountId, stackName: handle.stackName, stackId: handle.stackId });
      await statusPoll.osAwaitStack({ ...handle, action: 'DELETE' });
      const rendered = await store.renderOpenStackVm({ vmId: input.vmId, ownerId: vm.ownerId, requirements: vm.requirements });
      const made = await cloudCall.osEnsureStack({ accountId: handle.accountId, stackName: handle.stackName, template: rendered.template, parameters: { ...rendered.parameters, image: chosen.imageId }, tags: ['vmflow', `vm-${input.vmId}`] });
      handle = { accountId: handle.accountId, stackName: made.stackName, stackId: made.stackId };
      await statusPoll.osAwaitStack({ ...handle, action: 'CREATE' });
      placement = await cloudCall.osReadServer(handle);
    }
    progress.start('persist');
    await store.setVmState({ vmId: input.vmId, to: 'active', reason: `restored from backup ${chosen.backupId} (taken ${chosen.takenAt})`, placement, lastError: null });
    if (leaving && leaving.serverId !== placement.serverId) {
      // Back in its stack: the promoted standby it ran on is no longer the VM.
      const left = leaving;
      await statusPoll.osDeleteServer(left).catch(async (err) => {
        log.warn('could not remove the standby the VM ran on before the restore', { error: describeError(err) });
        // Its cloud did not answer, or a failover took the VM over first: left running, it would be
        // a second copy of the VM for good (soak seed 14). drVm removes it with its own leftovers.
        if (patched(RESTORE_HANDS_OVER_LEFTOVER_PATCH)) await CancellationScope.nonCancellable(() => handOverLeftover(input.vmId, { kind: 'os-server', accountId: left.accountId, id: left.serverId }));
      });
    }
    progress.complete();
    return { backupId: chosen.backupId, status: 'succeeded' };
  } catch (err) {
    progress.fail(err);
    // Cancelled: a failover took the VM over (workflows/owner.ts) and decides where it runs now.
    const stopped = isCancellation(err) ? `restore from backup ${chosen.backupId} stopped: disaster recovery needed the VM` : undefined;
    await CancellationScope.nonCancellable(() =>
      store.setVmState({ vmId: input.vmId, to: stopped ? 'active' : 'failed', reason: stopped ?? `restore from backup ${chosen.backupId} failed`, lastError: stopped ?? describeError(err) }),
    );
    throw err;
  }
}
