/**
 * Group protection (workflows/environment-backup.ts): what a group run backs up, whether each
 * member's backup has begun, the group restore point (written only by the run that makes it), and
 * the environment's schedule removed when the environment is gone. The members' backups are
 * ordinary backupVm runs; nothing here touches a cloud.
 */
import { ApplicationFailure } from '@temporalio/common';
import { GROUP_BACKUP_WINDOW_SECONDS, type GroupBackupStatus, type GroupMemberBackup } from '../src/contracts/environment-backup';
import { environmentModel } from '../src/environments/model';
import { environmentBackupModel, environmentBackupPolicyModel } from '../src/environments/backup-model';
import { deleteEnvironmentBackupSchedule } from '../src/environments/backup-schedule';
import { backupModel } from '../src/backups/model';
import { whileBusy } from '../src/db/connection';
import type { ActivityDeps } from './deps';

export type EnvironmentBackupPlan =
  | { ok: true; windowSeconds: number; members: Array<{ name: string; vmId: string }> }
  | { ok: false; reason: string; /** The environment is gone or has no policy: its schedule should not run again. */ removeSchedule: boolean };

export function createEnvironmentBackupActivities(deps: ActivityDeps) {
  return {
    /** The members a group run backs up now, and its window; or why it does not run. */
    async environmentBackupPlan(input: { envId: string; trigger: 'schedule' | 'manual' }): Promise<EnvironmentBackupPlan> {
      const env = await environmentModel(deps.db).findById(input.envId).lean();
      if (!env) return { ok: false, reason: 'the environment has no record', removeSchedule: true };
      const policy = await environmentBackupPolicyModel(deps.db).findById(input.envId).lean();
      if (env.state === 'destroyed' || env.state === 'destroying' || env.state === 'failed') return { ok: false, reason: `the environment is ${env.state}`, removeSchedule: true };
      if (input.trigger === 'schedule' && !policy) return { ok: false, reason: 'the environment has no group backup policy', removeSchedule: true };
      if (env.state !== 'active' && env.state !== 'partial') return { ok: false, reason: `the environment is ${env.state}`, removeSchedule: false };
      return { ok: true, windowSeconds: policy?.windowSeconds ?? GROUP_BACKUP_WINDOW_SECONDS, members: env.members.map((m) => ({ name: m.name, vmId: m.vmId })) };
    },

    /** The members' backups that have begun (their record exists: the run holds its VM's lease and has a plan). */
    async memberBackupsBegun(input: { workflowIds: string[] }): Promise<Array<{ workflowId: string; backupId: string }>> {
      if (!input.workflowIds.length) return [];
      const found = await backupModel(deps.db).find({ workflowId: { $in: input.workflowIds } }, { workflowId: 1 }).lean();
      return found.map((b) => ({ workflowId: b.workflowId, backupId: b._id }));
    },

    /** The group restore point as the run begins (idempotent: keyed by the run's workflow id). */
    async startEnvironmentBackupRecord(input: { pointId: string; envId: string; ownerId: string; trigger: 'schedule' | 'manual'; windowSeconds: number; members: GroupMemberBackup[] }): Promise<void> {
      const { pointId } = input;
      try {
        await whileBusy(() =>
          environmentBackupModel(deps.db).create({ _id: pointId, envId: input.envId, ownerId: input.ownerId, trigger: input.trigger, status: 'running', windowSeconds: input.windowSeconds, startedAt: new Date(), members: input.members }),
        );
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
      }
    },

    /** The group point's members and, at the end, its outcome. */
    async updateEnvironmentBackupRecord(input: { pointId: string; members: GroupMemberBackup[]; status?: GroupBackupStatus; reason?: string; finished?: boolean }): Promise<void> {
      const set: Record<string, unknown> = { members: JSON.parse(JSON.stringify(input.members)) as unknown };
      if (input.status) set.status = input.status;
      if (input.reason) set.reason = input.reason;
      if (input.finished) set.finishedAt = new Date();
      const r = await whileBusy(() => environmentBackupModel(deps.db).updateOne({ _id: input.pointId }, { $set: set }));
      if (r.matchedCount === 0) throw ApplicationFailure.nonRetryable(`group restore point ${input.pointId} has no record`, 'EnvironmentBackupNotFound');
    },

    /** Idempotent: the environment's schedule and group policy go (destroy, roll-back, a schedule whose environment is gone). */
    async removeEnvironmentBackupSchedule(input: { envId: string }): Promise<{ existed: boolean }> {
      if (!deps.temporalClient) throw ApplicationFailure.nonRetryable('the worker has no Temporal client for schedules', 'Misconfigured');
      const existed = await deleteEnvironmentBackupSchedule(deps.temporalClient, input.envId);
      await whileBusy(() => environmentBackupPolicyModel(deps.db).deleteOne({ _id: input.envId }));
      return { existed };
    },
  };
}
