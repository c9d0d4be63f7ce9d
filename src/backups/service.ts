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
import { AppError, parseInput } from '../errors';
import type { VmService } from '../vms/service';
import { startOrJoin } from '../vms/start';
import { backupModel, backupPolicyModel, type BackupPolicyRecord, type BackupRecord } from './model';
import { cronProblem } from './cron';
import { ScheduleSpecRefusedError, describeBackupSchedule, upsertBackupSchedule } from './schedule';

/** Five cron fields (minute hour day-of-month month day-of-week), as Temporal accepts them. */
const CRON = /^\s*(\S+\s+){4}\S+\s*$/;

export function backupPolicySchema(minIntervalSeconds: number) {
  return z
    .strictObject({
      intervalSeconds: z.number().int().min(minIntervalSeconds, `at least ${minIntervalSeconds} seconds`).max(31 * 86400, 'at most 31 days').optional(),
      cron: z
        .string()
        .max(200)
        .regex(CRON, 'five cron fields, e.g. "0 3 * * *"')
        .superRefine((cron, ctx) => {
          // Five fields that are not cron ("a b c d e", minute 61) would be refused by Temporal.
          const problem = CRON.test(cron) ? cronProblem(cron) : undefined;
          if (problem) ctx.addIssue({ code: 'custom', message: problem });
        })
        .optional(),
      retention: z.number().int().min(1, 'keep at least one backup').max(100).default(3),
      targets: z
        .strictObject({ baseStandby: z.boolean().default(true), backupCloudStandby: z.boolean().default(true) })
        .default({ baseStandby: true, backupCloudStandby: true }),
      paused: z.boolean().default(false),
      backupAccountId: z.string().min(1).max(100).optional(),
    })
    .refine((p) => (p.intervalSeconds === undefined) !== (p.cron === undefined), { message: 'give exactly one of intervalSeconds and cron', path: ['intervalSeconds'] });
}
export type BackupPolicyInput = z.input<ReturnType<typeof backupPolicySchema>>;

export interface BackupServiceDeps {
  db: Connection;
  temporal: Client;
  taskQueue: string;
  vms: VmService;
  minIntervalSeconds: number;
  /** The CloudStack account backup-cloud standbys go to unless the policy names one. */
  defaultBackupAccountId: string;
  findAccount(accountId: string, userId: string): Promise<{ id: string; kind: 'openstack' | 'cloudstack' } | undefined>;
}

export interface BackupPolicyView extends BackupPolicy {
  backupAccountId: string;
  schedule?: Awaited<ReturnType<typeof describeBackupSchedule>>;
}

export function toBackupView(d: BackupRecord) {
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
  };
}

export class BackupService {
  constructor(private readonly d: BackupServiceDeps) {}

  /** Validates a policy as the API receives it (400 naming the field). */
  parsePolicy(input: unknown): z.output<ReturnType<typeof backupPolicySchema>> {
    return parseInput(backupPolicySchema(this.d.minIntervalSeconds), input, 'backup policy');
  }

  private async requireBackupable(ownerId: string, vmId: string) {
    const vm = await this.d.vms.get(ownerId, vmId);
    if (vm.cloud !== 'openstack') throw AppError.conflict('backups are taken of VMs in the base cloud (OpenStack); this VM runs in CloudStack', 'not_backupable');
    if (vm.state === 'deleted' || vm.state === 'deleting') throw AppError.conflict(`VM is ${vm.state}`, 'vm_deleted');
    return vm;
  }

  /** Sets the whole policy (create or replace) and brings the schedule in line. */
  async setPolicy(ownerId: string, vmId: string, input: unknown): Promise<BackupPolicyView> {
    await this.requireBackupable(ownerId, vmId);
    const p = this.parsePolicy(input);
    return this.save(ownerId, vmId, p);
  }

  /** Changes some fields of an existing policy (PATCH). */
  async patchPolicy(ownerId: string, vmId: string, patch: unknown): Promise<BackupPolicyView> {
    await this.requireBackupable(ownerId, vmId);
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

  private async save(ownerId: string, vmId: string, p: z.output<ReturnType<typeof backupPolicySchema>>): Promise<BackupPolicyView> {
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
  async runNow(ownerId: string, vmId: string): Promise<{ workflowId: string; temporalUiUrl: string }> {
    const vm = await this.requireBackupable(ownerId, vmId);
    if (vm.state !== 'active') throw AppError.conflict(`VM is ${vm.state}; back it up when it is active`, 'vm_busy');
    const workflowId = manualBackupWorkflowId(vmId, crypto.randomUUID());
    const input: BackupInput = { vmId, ownerId, trigger: 'manual' };
    await startOrJoin(this.d.temporal, BACKUP_WORKFLOW, { workflowId, taskQueue: this.d.taskQueue, args: [input], ownerId, vmId, cloud: 'openstack' });
    return { workflowId, temporalUiUrl: this.d.vms.temporalUiLink(workflowId) };
  }

  async list(ownerId: string, vmId: string) {
    await this.d.vms.get(ownerId, vmId);
    const docs = await backupModel(this.d.db).find({ vmId }).sort({ startedAt: -1 }).limit(200).lean();
    return docs.map(toBackupView);
  }

  async restore(ownerId: string, vmId: string, body: unknown, idempotencyKey?: string): Promise<{ workflowId: string; temporalUiUrl: string; started: boolean }> {
    const vm = await this.requireBackupable(ownerId, vmId);
    const { backupId } = parseInput(z.strictObject({ backupId: z.string().min(1).max(100).optional() }), body ?? {});
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
    return { workflowId, temporalUiUrl: this.d.vms.temporalUiLink(workflowId), started };
  }
}
