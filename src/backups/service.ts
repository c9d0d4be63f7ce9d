/**
 * Backup use cases behind the REST API: the policy (one document per VM, written only here) and
 * its Temporal Schedule, backups run by hand, the backup list, and restore. Ownership comes from
 * the VM (another member's VM → 404).
 */
import crypto from 'node:crypto';
import type { Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import {
  BACKUP_WORKFLOW,
  RESTORE_WORKFLOW,
  manualBackupWorkflowId,
  restoreWorkflowId,
  type BackupInput,
  type BackupPolicy,
  type RestoreInput,
} from '../contracts/backup';
import type { StartedWorkflow } from '../contracts/api/common';
import { backupPolicySchema, restoreRequestSchema, type BackupPolicyView, type BackupView } from '../contracts/api/backups';
import { quotaExceeded, runningWorkflowsOf, type MemberQuotas } from '../limits/quotas';
import { pageOf, type PageRequest } from '../limits/pages';
import { AppError, parseInput } from '../errors';
import type { VmService } from '../vms/service';
import { startOrJoin } from '../vms/start';
import { backupModel, backupPolicyModel, type BackupPolicyRecord, type BackupRecord } from './model';
import { environmentBackupPolicyModel } from '../environments/backup-model';
import { ScheduleSpecRefusedError, describeBackupSchedule, upsertBackupSchedule } from './schedule';

export interface BackupServiceDeps {
  db: Connection;
  temporal: Client;
  taskQueue: string;
  vms: VmService;
  minIntervalSeconds: number;
  /** The CloudStack account backup-cloud standbys go to unless the policy names one. */
  defaultBackupAccountId: string;
  findAccount(accountId: string, userId: string): Promise<{ id: string; kind: 'openstack' | 'cloudstack' } | undefined>;
  /** Per-member quotas (src/limits/quotas.ts); unset: no limits. */
  quotas?: Pick<MemberQuotas, 'backupsInFlight' | 'backupRetention' | 'imageStoreBytes'>;
}

export function toBackupView(d: BackupRecord): BackupView {
  return {
    id: d._id,
    vmId: d.vmId,
    workflowId: d.workflowId,
    trigger: d.trigger,
    status: d.status,
    ...(d.reason ? { reason: d.reason } : {}),
    startedAt: new Date(d.startedAt).toISOString(),
    ...(d.finishedAt ? { finishedAt: new Date(d.finishedAt).toISOString() } : {}),
    ...(d.image ? { image: d.image } : {}),
    ...(d.store ? { store: { size: d.store.size, sha256: d.store.sha256, md5: d.store.md5 } } : {}),
    ...(d.template ? { template: { id: d.template.id, name: d.template.name, size: d.template.size } } : {}),
    ...(d.baseStandby ? { baseStandby: { serverId: d.baseStandby.serverId, name: d.baseStandby.name } } : {}),
    ...(d.backupCloudStandby ? { backupCloudStandby: { csVmId: d.backupCloudStandby.csVmId, name: d.backupCloudStandby.name } } : {}),
    tasks: d.tasks,
    ...(d.retiredAt ? { retiredAt: new Date(d.retiredAt).toISOString() } : {}),
    ...(d.preservedAt ? { preservedAt: new Date(d.preservedAt).toISOString() } : {}),
  };
}

type ParsedPolicy = z.output<ReturnType<typeof backupPolicySchema>>;

export class BackupService {
  /** A policy as this deployment accepts it (its shortest period is minIntervalSeconds). */
  readonly policySchema: ReturnType<typeof backupPolicySchema>;

  constructor(private readonly d: BackupServiceDeps) {
    this.policySchema = backupPolicySchema(d.minIntervalSeconds);
  }

  /** The CloudStack account of backup-cloud standbys when a policy names none. */
  get defaultBackupAccountId(): string {
    return this.d.defaultBackupAccountId;
  }

  /** Validates a policy as the API receives it (400 naming the field). */
  parsePolicy(input: unknown): ParsedPolicy {
    const p = parseInput(this.policySchema, input, 'backup policy');
    const max = this.d.quotas?.backupRetention;
    if (max !== undefined && p.retention > max) {
      throw AppError.badRequest(`invalid backup policy: retention: at most ${max} backups may be kept`, [{ field: 'retention', message: `must be at most ${max} (quota)` }]);
    }
    return p;
  }

  private async requireBackupable(ownerId: string, vmId: string) {
    const vm = await this.d.vms.get(ownerId, vmId);
    if (vm.cloud !== 'openstack') throw AppError.conflict('backups are taken of VMs in the base cloud (OpenStack); this VM runs in CloudStack', 'not_backupable');
    if (vm.state === 'deleted' || vm.state === 'deleting') throw AppError.conflict(`VM is ${vm.state}`, 'vm_deleted');
    return vm;
  }

  /** A member of an environment with a group policy is backed up by the group's schedule only (409). */
  private async refuseGroupMember(vm: { environmentId?: string }): Promise<void> {
    if (vm.environmentId && (await environmentBackupPolicyModel(this.d.db).exists({ _id: vm.environmentId }))) {
      throw AppError.conflict(`this VM is a member of environment ${vm.environmentId}, which has a group backup policy: change that one (PUT /api/v1/environments/${vm.environmentId}/backup-policy)`, 'environment_backup_policy');
    }
  }

  /** Sets the whole policy (create or replace) and brings the schedule in line. */
  async setPolicy(ownerId: string, vmId: string, input: unknown): Promise<BackupPolicyView> {
    await this.refuseGroupMember(await this.requireBackupable(ownerId, vmId));
    const p = this.parsePolicy(input);
    return this.save(ownerId, vmId, p);
  }

  /** Changes some fields of an existing policy (PATCH). */
  async patchPolicy(ownerId: string, vmId: string, patch: unknown): Promise<BackupPolicyView> {
    await this.refuseGroupMember(await this.requireBackupable(ownerId, vmId));
    const current = await backupPolicyModel(this.d.db).findById(vmId).lean();
    const body = parseInput(z.record(z.string(), z.unknown(), { error: 'the body must be a JSON object' }), patch);
    const base = current
      ? { intervalSeconds: current.intervalSeconds ?? undefined, cron: current.cron ?? undefined, retention: current.retention, targets: current.targets, paused: current.paused, backupAccountId: current.backupAccountId }
      : {};
    // A new period replaces the other kind of period.
    if ('cron' in body) delete (base as Record<string, unknown>).intervalSeconds;
    if ('intervalSeconds' in body) delete (base as Record<string, unknown>).cron;
    const merged = Object.fromEntries(Object.entries({ ...base, ...body }).filter(([, v]) => v !== undefined && v !== null));
    return this.save(ownerId, vmId, this.parsePolicy(merged));
  }

  private async save(ownerId: string, vmId: string, p: ParsedPolicy): Promise<BackupPolicyView> {
    const backupAccountId = p.backupAccountId ?? this.d.defaultBackupAccountId;
    const account = await this.d.findAccount(backupAccountId, ownerId);
    if (!account || account.kind !== 'cloudstack') {
      throw AppError.badRequest(`cloud account ${backupAccountId} is not a CloudStack account you can use`, [{ field: 'backupAccountId', message: 'not a usable CloudStack account' }]);
    }
    const policy: BackupPolicy = { intervalSeconds: p.intervalSeconds, cron: p.cron, retention: p.retention, targets: p.targets, paused: p.paused };
    // The schedule first: when Temporal refuses the period, nothing is saved and the old policy
    // (and its schedule) stay as they were.
    try {
      await upsertBackupSchedule(this.d.temporal, { vmId, ownerId, taskQueue: this.d.taskQueue }, policy);
    } catch (err) {
      if (!(err instanceof ScheduleSpecRefusedError)) throw err;
      const field = policy.cron !== undefined ? 'cron' : 'intervalSeconds';
      throw AppError.badRequest(`invalid backup policy: ${field}: the schedule was refused (${err.message})`, [{ field, message: `refused by the scheduler: ${err.message}` }]);
    }
    const doc: Omit<BackupPolicyRecord, 'updatedAt'> = { _id: vmId, ownerId, ...policy, backupAccountId };
    await backupPolicyModel(this.d.db).replaceOne({ _id: vmId }, doc, { upsert: true });
    return this.getPolicy(ownerId, vmId);
  }

  async getPolicy(ownerId: string, vmId: string): Promise<BackupPolicyView> {
    await this.d.vms.get(ownerId, vmId);
    const p = await backupPolicyModel(this.d.db).findById(vmId).lean();
    if (!p) throw AppError.notFound('backup policy');
    return {
      ...(p.intervalSeconds !== undefined && p.intervalSeconds !== null ? { intervalSeconds: p.intervalSeconds } : {}),
      ...(p.cron ? { cron: p.cron } : {}),
      retention: p.retention,
      targets: { baseStandby: !!p.targets?.baseStandby, backupCloudStandby: !!p.targets?.backupCloudStandby },
      paused: !!p.paused,
      backupAccountId: p.backupAccountId,
      schedule: await describeBackupSchedule(this.d.temporal, vmId),
    };
  }

  async setPaused(ownerId: string, vmId: string, paused: boolean): Promise<BackupPolicyView> {
    return this.patchPolicy(ownerId, vmId, { paused });
  }

  /** Starts a backup now; it runs even when scheduled backups are paused. */
  async runNow(ownerId: string, vmId: string): Promise<StartedWorkflow> {
    const vm = await this.requireBackupable(ownerId, vmId);
    if (vm.state !== 'active') throw AppError.conflict(`VM is ${vm.state}; back it up when it is active`, 'vm_busy');
    await this.assertBackupQuotas(ownerId);
    const workflowId = manualBackupWorkflowId(vmId, crypto.randomUUID());
    const input: BackupInput = { vmId, ownerId, trigger: 'manual' };
    await startOrJoin(this.d.temporal, BACKUP_WORKFLOW, { workflowId, taskQueue: this.d.taskQueue, args: [input], ownerId, vmId, cloud: 'openstack' });
    return { workflowId };
  }

  /**
   * Backups in flight and image-store bytes of the member (409 quota_exceeded past either).
   * `adding`: how many backups the request starts (a group run: one per member).
   */
  async assertBackupQuotas(ownerId: string, adding = 1): Promise<void> {
    const q = this.d.quotas;
    if (!q) return;
    const running = await runningWorkflowsOf(this.d.temporal, BACKUP_WORKFLOW, ownerId);
    if (running + adding > q.backupsInFlight) {
      const asked = adding === 1 ? '' : ` and this asks for ${adding} more`;
      throw quotaExceeded('backupsInFlight', q.backupsInFlight, `${running} of your backups are running${asked}; wait for ${running + adding - q.backupsInFlight === 1 ? 'one' : 'some'} to finish`);
    }
    if (q.imageStoreBytes !== undefined) {
      let bytes = 0;
      for await (const b of backupModel(this.d.db).find({ ownerId, retiredAt: { $exists: false } }).select({ store: 1 }).lean().cursor()) bytes += (b as { store?: { size?: number } }).store?.size ?? 0;
      if (bytes >= q.imageStoreBytes) throw quotaExceeded('imageStoreBytes', q.imageStoreBytes, `your backups hold ${bytes} bytes in the image store; lower retention or delete VMs`);
    }
  }

  async list(ownerId: string, vmId: string, page: PageRequest = {}): Promise<{ backups: BackupView[]; nextCursor?: string }> {
    await this.d.vms.get(ownerId, vmId);
    const p = await pageOf(backupModel(this.d.db), { vmId }, { field: 'startedAt', direction: -1 }, page);
    return { backups: p.items.map(toBackupView), ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) };
  }

  async restore(ownerId: string, vmId: string, body: unknown, idempotencyKey?: string): Promise<StartedWorkflow & { started: boolean }> {
    const vm = await this.requireBackupable(ownerId, vmId);
    const { backupId } = parseInput(restoreRequestSchema, body ?? {});
    if (vm.state !== 'active' && vm.state !== 'failed') throw AppError.conflict(`VM is ${vm.state}; restore it when that finishes`, 'vm_busy');
    if (vm.placement && vm.placement.cloud !== 'openstack') {
      throw AppError.conflict('the VM runs in the backup cloud after a failover; restore it after failback', 'vm_failed_over');
    }
    if (backupId) {
      const b = await backupModel(this.d.db).findOne({ _id: backupId, vmId }).lean();
      if (!b) throw AppError.notFound('backup');
      if (!b.image || b.retiredAt) throw AppError.conflict(`backup ${backupId} has no image to restore from`, 'backup_unusable');
    } else if (!(await backupModel(this.d.db).exists({ vmId, image: { $exists: true }, retiredAt: { $exists: false } }))) {
      throw AppError.conflict('this VM has no backup to restore from yet', 'no_backup');
    }
    const workflowId = restoreWorkflowId(vmId, idempotencyKey ? crypto.createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 16) : crypto.randomUUID());
    const input: RestoreInput = { vmId, ownerId, ...(backupId ? { backupId } : {}) };
    const started = await startOrJoin(this.d.temporal, RESTORE_WORKFLOW, {
      workflowId, taskQueue: this.d.taskQueue, args: [input], workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE, ownerId, vmId, cloud: 'openstack',
    });
    return { workflowId, started };
  }
}
