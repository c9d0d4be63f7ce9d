/**
 * Group protection (workflows/environment-backup.ts): what a group run backs up, whether each
 * member's backup has begun, the group restore point (written only by the run that makes it), and
 * the environment's schedule removed when the environment is gone. The members' backups are
 * ordinary backupVm runs; nothing here touches a cloud.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { GROUP_BACKUP_WINDOW_SECONDS, type EnvironmentBackupInput, type GroupBackupStatus, type GroupMemberBackup } from '../src/contracts/environment-backup';
import { environmentModel, type EnvironmentRecord } from '../src/environments/model';
import { vmModel } from '../src/vms/model';
import { environmentBackupModel, environmentBackupPolicyModel } from '../src/environments/backup-model';
import { deleteEnvironmentBackupSchedule, upsertEnvironmentBackupSchedule } from '../src/environments/backup-schedule';
import { backupModel, backupPolicyModel } from '../src/backups/model';
import { whileBusy } from '../src/db/connection';
import type { ActivityDeps } from './deps';

export type EnvironmentBackupPlan =
  | { ok: true; windowSeconds: number; members: Array<{ name: string; vmId: string }> }
  | { ok: false; reason: string; /** The environment is gone or has no policy: its schedule should not run again. */ removeSchedule: boolean };

export function createEnvironmentBackupActivities(deps: ActivityDeps) {
  /**
   * The destroy's final backup ("preserve the data"): with a group policy every member that still
   * has a VM, otherwise the members with a policy of their own. Members whose VM failed or is gone
   * have nothing to keep. No such member: nothing to do.
   */
  async function finalBackupPlan(env: EnvironmentRecord, groupPolicy: boolean, windowSeconds: number | undefined): Promise<EnvironmentBackupPlan> {
    if (env.state !== 'destroying') return { ok: false, reason: `the environment is ${env.state}, not being destroyed`, removeSchedule: false };
    const vms = await vmModel(deps.db).find({ _id: { $in: env.members.map((m) => m.vmId) } }, { state: 1 }).lean();
    const live = new Set(vms.filter((v) => !['deleted', 'deleting', 'failed'].includes(v.state)).map((v) => v._id));
    const own = groupPolicy ? live : new Set((await backupPolicyModel(deps.db).find({ _id: { $in: [...live] } }, { _id: 1 }).lean()).map((p) => p._id));
    const members = env.members.filter((m) => live.has(m.vmId) && own.has(m.vmId)).map((m) => ({ name: m.name, vmId: m.vmId }));
    if (!members.length) return { ok: false, reason: 'no member has a backup policy: nothing to preserve', removeSchedule: false };
    return { ok: true, windowSeconds: windowSeconds ?? GROUP_BACKUP_WINDOW_SECONDS, members };
  }

  return {
    /** The members a group run backs up now, and its window; or why it does not run. */
    async environmentBackupPlan(input: { envId: string; trigger: EnvironmentBackupInput['trigger'] }): Promise<EnvironmentBackupPlan> {
      const env = await environmentModel(deps.db).findById(input.envId).lean();
      if (!env) return { ok: false, reason: 'the environment has no record', removeSchedule: true };
      const policy = await environmentBackupPolicyModel(deps.db).findById(input.envId).lean();
      if (input.trigger === 'final') return finalBackupPlan(env, !!policy, policy?.windowSeconds);
      if (env.state === 'destroyed') return { ok: false, reason: 'the environment is destroyed', removeSchedule: true };
      // Being destroyed (the final backup still reads the policy; a stopped destroy gives the schedule back) or failed: skipped, kept.
      if (env.state === 'destroying' || env.state === 'failed') return { ok: false, reason: `the environment is ${env.state}`, removeSchedule: false };
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
    async startEnvironmentBackupRecord(input: { pointId: string; envId: string; ownerId: string; trigger: EnvironmentBackupInput['trigger']; windowSeconds: number; members: GroupMemberBackup[] }): Promise<void> {
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

    /**
     * A destroy that stopped before deleting anything (its final backup fell short) gives the
     * environment its group schedule back, from the policy it kept (idempotent; none: nothing to do).
     */
    async resumeEnvironmentBackupSchedule(input: { envId: string }): Promise<{ resumed: boolean }> {
      if (!deps.temporalClient) throw ApplicationFailure.nonRetryable('the worker has no Temporal client for schedules', 'Misconfigured');
      const policy = await environmentBackupPolicyModel(deps.db).findById(input.envId).lean();
      if (!policy) return { resumed: false };
      const taskQueue = Context.current().info.taskQueue;
      await upsertEnvironmentBackupSchedule(deps.temporalClient, { envId: input.envId, ownerId: policy.ownerId, taskQueue }, policy);
      return { resumed: true };
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
