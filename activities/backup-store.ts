/**
 * Backup bookkeeping: what a backup run needs to know (the VM, its policy, names for the standby
 * flavor and offering), the backup record it writes, and which old backups retention retires.
 */
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { loadCatalog } from '../src/catalog/load';
import { findSize, type Catalog } from '../src/catalog';
import type { BackupInput, BackupPolicy } from '../src/contracts/backup';
import type { TaskProgress } from '../src/contracts/progress';
import { backupModel, backupPolicyModel, type BackupRecord } from '../src/backups/model';
import { vmModel } from '../src/vms/model';
import { deleteBackupSchedule } from '../src/backups/schedule';
import { environmentBackupPolicyModel } from '../src/environments/backup-model';
import { OPERATOR_ACCOUNT_IDS } from '../src/cloud-accounts/types';
import type { ActivityDeps } from './deps';
import { recordBackupEnd, recordBackupSkipped } from '../src/metrics/activity-metrics';
import { writeCatalogEntry } from '../src/backups/catalog-store';

export interface BackupPlan {
  /** false: nothing to back up now (VM not active, deleted, not on OpenStack, policy paused…). */
  ok: boolean;
  reason?: string;
  accountId: string;
  serverId: string;
  size: string;
  os: string;
  flavorName: string;
  networkName: string;
  serviceOfferingName: string;
  backupAccountId: string;
  policy: BackupPolicy;
}

export interface RetentionCandidate {
  backupId: string;
  imageAccountId?: string;
  imageId?: string;
  templateAccountId?: string;
  templateId?: string;
  storeKey?: string;
}

/** Backup record fields a workflow may set (dates travel as ISO strings). */
export type BackupRecordPatch = Partial<Omit<BackupRecord, '_id' | 'startedAt' | 'finishedAt' | 'retiredAt'>> & { finishedAt?: string };

export function createBackupStoreActivities(deps: ActivityDeps) {
  let catalog: Catalog | undefined;
  const getCatalog = () => (catalog ??= loadCatalog());

  return {
    async backupPlan(input: { vmId: string; trigger: BackupInput['trigger'] }): Promise<BackupPlan> {
      const vm = await vmModel(deps.db).findById(input.vmId).lean();
      if (!vm) throw ApplicationFailure.nonRetryable(`VM ${input.vmId} has no record`, 'VmNotFound');
      // A member of an environment with a group policy is backed up under the group's policy
      // (retention, targets, backup account); its own policy otherwise.
      const groupPolicy = vm.environmentId ? await environmentBackupPolicyModel(deps.db).findById(vm.environmentId).lean() : null;
      const policy = groupPolicy ?? (await backupPolicyModel(deps.db).findById(input.vmId).lean());
      const size = findSize(getCatalog(), vm.requirements.size);
      const plan: BackupPlan = {
        ok: true,
        accountId: vm.placement?.accountId ?? vm.accountId,
        serverId: vm.placement?.serverId ?? '',
        size: vm.requirements.size,
        os: vm.requirements.os,
        flavorName: size?.openstack.flavorName ?? 'm1.small',
        networkName: deps.openstack?.network ?? 'private',
        serviceOfferingName: size?.cloudstack.serviceOfferingName ?? 'Small Instance',
        // Without a policy (a backup run by hand), standbys go to the operator's CloudStack account.
        backupAccountId: policy?.backupAccountId ?? OPERATOR_ACCOUNT_IDS.cloudstack,
        policy: policy
          ? { intervalSeconds: policy.intervalSeconds, cron: policy.cron, retention: policy.retention, targets: { baseStandby: !!policy.targets?.baseStandby, backupCloudStandby: !!policy.targets?.backupCloudStandby }, paused: policy.paused }
          : { retention: 3, targets: { baseStandby: true, backupCloudStandby: true }, paused: false },
      };
      const no = (reason: string): BackupPlan => {
        recordBackupSkipped(input.trigger);
        return { ...plan, ok: false, reason };
      };
      if (vm.state !== 'active') return no(`VM is ${vm.state}`);
      if (!vm.placement || vm.placement.cloud !== 'openstack') return no('only VMs running in the base cloud (OpenStack) are backed up');
      if (policy?.paused && input.trigger === 'schedule') return no('backups are paused');
      return plan;
    },

    /** Idempotent: the record is keyed by the backup id the workflow chose. */
    async startBackupRecord(input: { backupId: string; vmId: string; ownerId: string; trigger: BackupInput['trigger']; source: BackupRecord['source']; tasks: TaskProgress[] }): Promise<void> {
      const workflowId = Context.current().info.workflowExecution?.workflowId ?? 'unknown';
      try {
        await backupModel(deps.db).create({ _id: input.backupId, vmId: input.vmId, ownerId: input.ownerId, workflowId, trigger: input.trigger, status: 'running', startedAt: new Date(), source: input.source, tasks: input.tasks });
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
      }
    },

    async updateBackupRecord(input: { backupId: string; set: BackupRecordPatch }): Promise<void> {
      const set: Record<string, unknown> = { ...input.set };
      if (input.set.finishedAt) set.finishedAt = new Date(input.set.finishedAt);
      const ending = input.set.status !== undefined && input.set.status !== 'running';
      // The run's end is counted once: only the write that takes the record out of `running`.
      const before = ending ? await backupModel(deps.db).findById(input.backupId, { status: 1, startedAt: 1, trigger: 1 }).lean() : null;
      // A finished backup's record is also kept beside its image in the store (catalog rebuild),
      // written before the database says it finished: whoever sees it finished finds the copy too.
      if (ending && (input.set.status === 'succeeded' || input.set.status === 'partial') && deps.imageStore) {
        const record = await backupModel(deps.db).findById(input.backupId).lean();
        if (record) await writeCatalogEntry(deps.imageStore.client, { ...record, ...set } as typeof record, deps.logger);
      }
      await backupModel(deps.db).updateOne({ _id: input.backupId }, { $set: set });
      if (before?.status === 'running' && input.set.status) recordBackupEnd(input.set.status, before.trigger, before.startedAt, input.set.finishedAt);
    },

    /**
     * Backups beyond the newest `keep` good ones (good = it has an image). The newest good backup
     * is never a candidate, whatever `keep` says; other running backups are never candidates.
     */
    async retentionCandidates(input: { vmId: string; keep: number; currentBackupId?: string }): Promise<RetentionCandidate[]> {
      const docs = await backupModel(deps.db).find({ vmId: input.vmId, retiredAt: { $exists: false } }).sort({ startedAt: -1 }).lean();
      const keep = Math.max(1, input.keep);
      // The standbys were made from these backups' image/template: keep what they stand on.
      const baseStandbySource = docs.find((d) => d.baseStandby)?._id;
      const backupCloudStandbySource = docs.find((d) => d.backupCloudStandby)?._id;
      let good = 0;
      const out: RetentionCandidate[] = [];
      for (const d of docs) {
        // Another run still going is left alone; the run asking counts as one of the newest.
        if (d.status === 'running' && d._id !== input.currentBackupId) continue;
        if (d._id === baseStandbySource || d._id === backupCloudStandbySource) {
          if (d.image) good += 1;
          continue;
        }
        const isGood = !!d.image;
        if (isGood && good < keep) {
          good += 1;
          continue;
        }
        out.push({
          backupId: d._id,
          ...(d.image ? { imageAccountId: d.source?.accountId, imageId: d.image.id } : {}),
          ...(d.template ? { templateAccountId: d.template.accountId, templateId: d.template.id } : {}),
          ...(d.store ? { storeKey: d.store.key } : {}),
        });
      }
      return out;
    },

    /** The backup a restore uses: the one asked for, else the newest with an image. */
    async restorePlan(input: { vmId: string; backupId?: string }): Promise<{ backupId: string; imageId: string; imageName: string; takenAt: string }> {
      const Backup = backupModel(deps.db);
      const doc = input.backupId
        ? await Backup.findOne({ _id: input.backupId, vmId: input.vmId }).lean()
        : await Backup.findOne({ vmId: input.vmId, image: { $exists: true }, retiredAt: { $exists: false } }).sort({ startedAt: -1 }).lean();
      if (!doc) throw ApplicationFailure.nonRetryable(input.backupId ? `backup ${input.backupId} of VM ${input.vmId} not found` : `VM ${input.vmId} has no backup with an image`, 'NoBackup');
      if (!doc.image || doc.retiredAt) throw ApplicationFailure.nonRetryable(`backup ${doc._id} has no image to restore from`, 'NoBackup');
      return { backupId: doc._id, imageId: doc.image.id, imageName: doc.image.name, takenAt: new Date(doc.startedAt).toISOString() };
    },

    /** Everything the VM's backups left in the clouds and the store (deleteVm cleans it all up). */
    async allBackupArtifacts(input: { vmId: string }): Promise<{ candidates: RetentionCandidate[]; baseStandby?: { accountId: string; serverId: string }; backupCloudStandby?: { accountId: string; csVmId: string } }> {
      const docs = await backupModel(deps.db).find({ vmId: input.vmId }).sort({ startedAt: -1 }).lean();
      const base = docs.find((d) => d.baseStandby)?.baseStandby;
      const cs = docs.find((d) => d.backupCloudStandby)?.backupCloudStandby;
      return {
        candidates: docs
          // A preserved backup's store copy outlives the VM (a delete tried again must not take it).
          .filter((d) => !d.retiredAt && !d.preservedAt)
          .map((d) => ({
            backupId: d._id,
            ...(d.image ? { imageAccountId: d.source?.accountId, imageId: d.image.id } : {}),
            ...(d.template ? { templateAccountId: d.template.accountId, templateId: d.template.id } : {}),
            ...(d.store ? { storeKey: d.store.key } : {}),
          })),
        ...(base ? { baseStandby: { accountId: base.accountId, serverId: base.serverId } } : {}),
        ...(cs ? { backupCloudStandby: { accountId: cs.accountId, csVmId: cs.csVmId } } : {}),
      };
    },

    /** Idempotent: removes the VM's backup schedule if there is one (deleteVm). */
    async removeBackupSchedule(input: { vmId: string }): Promise<{ existed: boolean }> {
      if (!deps.temporalClient) throw ApplicationFailure.nonRetryable('the worker has no Temporal client for schedules', 'Misconfigured');
      return { existed: await deleteBackupSchedule(deps.temporalClient, input.vmId) };
    },

    async retireBackup(input: { backupId: string }): Promise<void> {
      await backupModel(deps.db).updateOne({ _id: input.backupId }, { $set: { retiredAt: new Date() } });
    },

    /** The backup a deleted VM keeps: its image and template are gone, its store copy stays (idempotent). */
    async preserveBackup(input: { backupId: string }): Promise<void> {
      await backupModel(deps.db).updateOne({ _id: input.backupId, preservedAt: { $exists: false } }, { $set: { preservedAt: new Date() } });
    },
  };
}
