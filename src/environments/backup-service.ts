/**
 * Group protection of environments behind the REST API (issue 15, item 3): the environment's
 * backup policy (the same fields as a VM's, plus the start window) and its Temporal Schedule, a
 * group backup run by hand, and the group restore points. The members' backups themselves are
 * ordinary backupVm runs (workflows/environment-backup.ts starts them); ownership comes from the
 * environment (another member's environment → 404).
 */
import crypto from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Connection } from 'mongoose';
import { z } from 'zod';
import type { BackupPolicy } from '../contracts/backup';
import {
  BACKUP_ENVIRONMENT_WORKFLOW,
  GROUP_BACKUP_WINDOW_SECONDS,
  manualEnvironmentBackupWorkflowId,
  type EnvironmentBackupInput,
} from '../contracts/environment-backup';
import { GROUP_POLICY_NOTE, type EnvironmentBackupAccepted, type EnvironmentBackupPolicyView, type EnvironmentBackupView } from '../contracts/api/environment-backups';
import { AppError, parseInput, type FieldError } from '../errors';
import { pageOf, type PageRequest } from '../limits/pages';
import type { BackupService } from '../backups/service';
import { backupPolicyModel } from '../backups/model';
import { ScheduleSpecRefusedError, deleteBackupSchedule } from '../backups/schedule';
import { VMFLOW_CLOUD_KEY, VMFLOW_OWNER_KEY } from '../vms/search';
import { environmentModel, type EnvironmentRecord } from './model';
import { environmentBackupModel, environmentBackupPolicyModel, type EnvironmentBackupPolicyRecord, type EnvironmentBackupRecord } from './backup-model';
import { deleteEnvironmentBackupSchedule, describeEnvironmentBackupSchedule, upsertEnvironmentBackupSchedule } from './backup-schedule';

export interface EnvironmentBackupServiceDeps {
  db: Connection;
  temporal: Client;
  taskQueue: string;
  /** The VM backup service: its policy schema (the deployment's shortest period, the retention quota) and default backup account. */
  backups: BackupService;
  findAccount(accountId: string, userId: string): Promise<{ id: string; kind: 'openstack' | 'cloudstack' } | undefined>;
}

export const WINDOW_SECONDS_MIN = 10;
export const WINDOW_SECONDS_MAX = 3600;
const windowSecondsSchema = z
  .number('must be a number')
  .int('must be an integer')
  .min(WINDOW_SECONDS_MIN, `at least ${WINDOW_SECONDS_MIN} seconds`)
  .max(WINDOW_SECONDS_MAX, `at most ${WINDOW_SECONDS_MAX} seconds`);

/** A group policy as checked: the VM policy's fields, the backup account resolved, and the window. */
export interface GroupPolicy extends BackupPolicy {
  backupAccountId: string;
  windowSeconds: number;
}

export class EnvironmentBackupService {
  constructor(private readonly d: EnvironmentBackupServiceDeps) {}

  /**
   * Checks a group policy as the API receives it: a VM backup policy (the same schema and quota)
   * plus `windowSeconds`. 400 naming the field, each prefixed with `prefix` (`backup.` in a create).
   */
  parse(input: unknown, prefix = ''): GroupPolicy {
    const named = (err: unknown): never => {
      if (err instanceof AppError && err.fields && prefix) throw AppError.badRequest(err.message, err.fields.map((f) => ({ field: `${prefix}${f.field === '(body)' ? '' : f.field}`.replace(/\.$/, ''), message: f.message })));
      throw err;
    };
    try {
      const body = parseInput(z.record(z.string(), z.unknown(), { error: 'must be a JSON object (a backup policy)' }), input, 'backup policy');
      const { windowSeconds, ...policy } = body;
      const problems: FieldError[] = [];
      let window = GROUP_BACKUP_WINDOW_SECONDS;
      if (windowSeconds !== undefined) {
        const w = windowSecondsSchema.safeParse(windowSeconds);
        if (w.success) window = w.data;
        else problems.push({ field: 'windowSeconds', message: w.error.issues[0]?.message ?? 'invalid' });
      }
      let p: ReturnType<BackupService['parsePolicy']> | undefined;
      try {
        p = this.d.backups.parsePolicy(policy);
      } catch (err) {
        if (!(err instanceof AppError) || !err.fields) throw err;
        problems.unshift(...err.fields);
      }
      if (problems.length || !p) throw AppError.badRequest(`invalid backup policy: ${problems.map((f) => `${f.field}: ${f.message}`).join('; ')}`, problems);
      return {
        intervalSeconds: p.intervalSeconds,
        cron: p.cron,
        retention: p.retention,
        targets: { baseStandby: p.targets.baseStandby, backupCloudStandby: p.targets.backupCloudStandby },
        paused: p.paused,
        backupAccountId: p.backupAccountId ?? this.d.backups.defaultBackupAccountId,
        windowSeconds: window,
      };
    } catch (err) {
      return named(err);
    }
  }

  /** The CloudStack account of the standbys must be one the member may use (400 naming it). */
  async checkAccount(ownerId: string, policy: GroupPolicy, prefix = ''): Promise<void> {
    const account = await this.d.findAccount(policy.backupAccountId, ownerId);
    if (!account || account.kind !== 'cloudstack') {
      throw AppError.badRequest(`cloud account ${policy.backupAccountId} is not a CloudStack account you can use`, [{ field: `${prefix}backupAccountId`, message: 'not a usable CloudStack account' }]);
    }
  }

  /** PUT /environments/:id/backup-policy: sets the whole group policy and brings the schedule in line. */
  async setPolicy(ownerId: string, envId: string, input: unknown): Promise<EnvironmentBackupPolicyView> {
    const env = await this.protectable(ownerId, envId);
    const policy = this.parse(input);
    await this.checkAccount(ownerId, policy);
    await this.save(env, policy);
    return this.getPolicy(ownerId, envId);
  }

  /**
   * Saves the policy with its schedule (the schedule first: a period Temporal refuses saves
   * nothing) and takes over the members' own schedules and policies: a member is backed up by the
   * group's runs only. Used by POST /environments with `backup` too.
   */
  async save(env: Pick<EnvironmentRecord, '_id' | 'ownerId' | 'members'>, policy: GroupPolicy, prefix = ''): Promise<void> {
    try {
      await upsertEnvironmentBackupSchedule(this.d.temporal, { envId: env._id, ownerId: env.ownerId, taskQueue: this.d.taskQueue }, policy);
    } catch (err) {
      if (!(err instanceof ScheduleSpecRefusedError)) throw err;
      const field = policy.cron !== undefined ? 'cron' : 'intervalSeconds';
      throw AppError.badRequest(`invalid backup policy: ${field}: the schedule was refused (${err.message})`, [{ field: `${prefix}${field}`, message: `refused by the scheduler: ${err.message}` }]);
    }
    const doc: Omit<EnvironmentBackupPolicyRecord, 'updatedAt'> = {
      _id: env._id,
      ownerId: env.ownerId,
      ...(policy.intervalSeconds !== undefined ? { intervalSeconds: policy.intervalSeconds } : {}),
      ...(policy.cron !== undefined ? { cron: policy.cron } : {}),
      retention: policy.retention,
      targets: policy.targets,
      paused: policy.paused,
      backupAccountId: policy.backupAccountId,
      windowSeconds: policy.windowSeconds,
    };
    await environmentBackupPolicyModel(this.d.db).replaceOne({ _id: env._id }, doc, { upsert: true });
    const vmIds = env.members.map((m) => m.vmId);
    for (const vmId of vmIds) await deleteBackupSchedule(this.d.temporal, vmId);
    if (vmIds.length) await backupPolicyModel(this.d.db).deleteMany({ _id: { $in: vmIds } });
  }

  async getPolicy(ownerId: string, envId: string): Promise<EnvironmentBackupPolicyView> {
    await this.record(ownerId, envId);
    const p = await environmentBackupPolicyModel(this.d.db).findById(envId).lean();
    if (!p) throw AppError.notFound('backup policy');
    const schedule = await describeEnvironmentBackupSchedule(this.d.temporal, envId);
    return {
      ...(p.intervalSeconds !== undefined && p.intervalSeconds !== null ? { intervalSeconds: p.intervalSeconds } : {}),
      ...(p.cron ? { cron: p.cron } : {}),
      retention: p.retention,
      targets: { baseStandby: !!p.targets?.baseStandby, backupCloudStandby: !!p.targets?.backupCloudStandby },
      paused: !!p.paused,
      backupAccountId: p.backupAccountId,
      windowSeconds: p.windowSeconds ?? GROUP_BACKUP_WINDOW_SECONDS,
      ...(schedule ? { schedule } : {}),
      note: GROUP_POLICY_NOTE,
    };
  }

  /** DELETE /environments/:id/backup-policy: the schedule and the policy go (the restore points stay). */
  async removePolicy(ownerId: string, envId: string): Promise<void> {
    await this.record(ownerId, envId);
    const had = await environmentBackupPolicyModel(this.d.db).exists({ _id: envId });
    const scheduled = await deleteEnvironmentBackupSchedule(this.d.temporal, envId);
    if (!had && !scheduled) throw AppError.notFound('backup policy');
    await environmentBackupPolicyModel(this.d.db).deleteOne({ _id: envId });
  }

  /** Destroy: nothing of the group's protection is left to start runs (idempotent). */
  /**
   * The destroy begins: no group run starts any more. The policy stays until the destroy graph's
   * last step removes it: the final backup (and a destroy tried again) still reads it.
   */
  async stopSchedule(envId: string): Promise<void> {
    await deleteEnvironmentBackupSchedule(this.d.temporal, envId);
  }

  private async runExists(workflowId: string): Promise<boolean> {
    try {
      await this.d.temporal.workflow.getHandle(workflowId).describe();
      return true;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return false;
      throw err;
    }
  }

  /** Whether the environment has a group policy (a member's own policy is refused then). */
  async hasPolicy(envId: string): Promise<boolean> {
    return !!(await environmentBackupPolicyModel(this.d.db).exists({ _id: envId }));
  }

  /** POST /environments/:id/backups: one group run now (also while scheduled runs are paused). */
  async runNow(ownerId: string, envId: string, idempotencyKey?: string): Promise<EnvironmentBackupAccepted> {
    const env = await this.protectable(ownerId, envId);
    if (env.state !== 'active' && env.state !== 'partial') throw AppError.conflict(`the environment is ${env.state}; back it up when it is active`, 'environment_busy');
    const requestId = idempotencyKey ? crypto.createHash('sha256').update(`${ownerId}\n${idempotencyKey}`).digest('hex').slice(0, 16) : crypto.randomUUID();
    const workflowId = manualEnvironmentBackupWorkflowId(envId, requestId);
    const input: EnvironmentBackupInput = { envId, ownerId, trigger: 'manual' };
    const joined = { id: workflowId, workflowId, started: false, status: `/api/v1/workflows/${encodeURIComponent(workflowId)}` };
    // A repeat of a keyed request joins its run (without counting its members against the quota again).
    if (idempotencyKey && (await this.runExists(workflowId))) return joined;
    // One backup per member, counted like the member's own backups asked for by hand.
    await this.d.backups.assertBackupQuotas(ownerId, env.members.length);
    let started = true;
    try {
      await this.d.temporal.workflow.start(BACKUP_ENVIRONMENT_WORKFLOW, {
        workflowId,
        taskQueue: this.d.taskQueue,
        args: [input],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        typedSearchAttributes: new TypedSearchAttributes([
          { key: VMFLOW_OWNER_KEY, value: ownerId },
          { key: VMFLOW_CLOUD_KEY, value: env.cloud },
        ]),
        memo: { ownerId, envId },
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      started = false;
    }
    return { id: workflowId, workflowId, started, status: `/api/v1/workflows/${encodeURIComponent(workflowId)}` };
  }

  /** The group restore points, newest first. */
  async list(ownerId: string, envId: string, page: PageRequest = {}): Promise<{ backups: EnvironmentBackupView[]; nextCursor?: string }> {
    await this.record(ownerId, envId);
    const found = await pageOf(environmentBackupModel(this.d.db), { envId }, { field: 'startedAt', direction: -1 }, page);
    return { backups: found.items.map(toEnvironmentBackupView), ...(found.nextCursor ? { nextCursor: found.nextCursor } : {}) };
  }

  private async record(ownerId: string, envId: string): Promise<EnvironmentRecord> {
    const env = await environmentModel(this.d.db).findById(envId).lean();
    if (!env || env.ownerId !== ownerId) throw AppError.notFound('environment');
    return env;
  }

  /** The owner's environment, if it can be protected: in the base cloud and not (being) destroyed. */
  private async protectable(ownerId: string, envId: string): Promise<EnvironmentRecord> {
    const env = await this.record(ownerId, envId);
    if (env.state === 'destroyed' || env.state === 'destroying') throw AppError.conflict(`the environment is ${env.state}`, 'environment_destroyed');
    if (env.cloud !== 'openstack') throw AppError.conflict('backups are taken of VMs in the base cloud (OpenStack); this environment is in CloudStack', 'not_backupable');
    return env;
  }
}

export function toEnvironmentBackupView(r: EnvironmentBackupRecord): EnvironmentBackupView {
  return {
    id: r._id,
    envId: r.envId,
    trigger: r.trigger,
    status: r.status,
    ...(r.reason ? { reason: r.reason } : {}),
    windowSeconds: r.windowSeconds,
    startedAt: new Date(r.startedAt).toISOString(),
    ...(r.finishedAt ? { finishedAt: new Date(r.finishedAt).toISOString() } : {}),
    members: (r.members ?? []).map((m) => ({
      name: m.name,
      vmId: m.vmId,
      workflowId: m.workflowId,
      ...(m.backupId ? { backupId: m.backupId } : {}),
      status: m.status,
      ...(m.reason ? { reason: m.reason } : {}),
    })),
  };
}
