/**
 * Environment use cases behind the REST API: each reads like a summary of the flow. A create
 * expands and checks the request, inserts the environment record, admits every member as an
 * ordinary VM through the VM service (the one path by which a VM comes to be: its quota slot and
 * record) and starts the createEnvironment workflow, which creates the members as children.
 * Reads come from the records the workflows write (never a workflow query).
 */
import crypto from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { TypedSearchAttributes, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Connection } from 'mongoose';
import { whileBusy } from '../db/connection';
import {
  CREATE_ENVIRONMENT_WORKFLOW,
  DESTROY_ENVIRONMENT_WORKFLOW,
  createEnvironmentWorkflowId,
  destroyEnvironmentWorkflowId,
  retryEnvironmentWorkflowId,
  environmentNetworkName,
  type DestroyEnvironmentInput,
  type EnvironmentInput,
} from '../contracts/environment';
import type { CloudKind, VmFromBackup } from '../contracts/vm';
import { PAGE_DEFAULT, PAGE_MAX } from '../contracts/api/common';
import type { CreateEnvironmentRequest, EnvironmentMemberRequest, EnvironmentView } from '../contracts/api/environments';
import { backupModel } from '../backups/model';
import { AppError, type FieldError } from '../errors';
import { pageOf, type PageRequest } from '../limits/pages';
import { vmModel, type VmRecord } from '../vms/model';
import { VMFLOW_CLOUD_KEY, VMFLOW_OWNER_KEY } from '../vms/search';
import { vmIdForIdempotencyKey, type AdmittedVm, type VmService } from '../vms/service';
import { EnvironmentRequestError, expandEnvironment, type ExpandedEnvironment, type ExpandedMember } from './expand';
import type { VmRequirements } from '../templates/requirements';
import { environmentModel, type EnvironmentRecord } from './model';
import { environmentBackupModel } from './backup-model';
import type { EnvironmentBackupService, GroupPolicy } from './backup-service';

export interface EnvironmentServiceDeps {
  db: Connection;
  temporal: Client;
  taskQueue: string;
  vms: VmService;
  /** Resolves an account the member may use (own or operator); undefined → 400 naming accountId. */
  findAccount(accountId: string, userId: string): Promise<{ id: string; kind: CloudKind } | undefined>;
  operatorAccountId(cloud: CloudKind): string;
  /** Group protection (a `backup` policy at create; the schedule removed at destroy); unset: no group backups. */
  groups?: EnvironmentBackupService;
}

export interface StartedEnvironmentOperation {
  environment: EnvironmentView;
  workflowId: string;
  started: boolean;
}

/** Same owner + same Idempotency-Key ⇒ same environment id (and so the same member VM ids). */
export function environmentIdForIdempotencyKey(ownerId: string, key: string): string {
  return vmIdForIdempotencyKey(ownerId, `environment\n${key}`);
}

/** A member's VM id: fixed by the environment and the member's name, so a repeated admission finds it. */
export function memberVmId(ownerId: string, envId: string, member: string): string {
  return vmIdForIdempotencyKey(ownerId, `environment\n${envId}\nmember\n${member}`);
}

export class EnvironmentService {
  constructor(private readonly d: EnvironmentServiceDeps) {}

  private get Env() {
    return environmentModel(this.d.db);
  }

  async create(ownerId: string, req: CreateEnvironmentRequest, idempotencyKey?: string): Promise<StartedEnvironmentOperation> {
    // Through the same create gate as POST /vms: its members are creates too.
    return this.d.vms.admission(() => this.admitAndStart(ownerId, req, idempotencyKey));
  }

  private async admitAndStart(ownerId: string, asked: CreateEnvironmentRequest, idempotencyKey?: string): Promise<StartedEnvironmentOperation> {
    const { req, fromBackup } = await this.restoredMembers(ownerId, asked);
    const expanded = expandOrRefuse(req);
    const accountId = req.accountId ?? this.d.operatorAccountId(req.cloud);
    const account = await this.d.findAccount(accountId, ownerId);
    if (!account) throw AppError.badRequest(`cloud account ${accountId} not found`, [{ field: 'accountId', message: 'no such cloud account' }]);
    if (account.kind !== req.cloud) throw AppError.badRequest(`cloud account ${accountId} is a ${account.kind} account, not ${req.cloud}`, [{ field: 'accountId', message: `not a ${req.cloud} account` }]);
    const group = await this.groupPolicyOf(ownerId, req);
    const problems: FieldError[] = [];
    const members = expanded.members.map((m) => {
      const checked = this.validateMember(m, !!expanded.preset);
      if (!checked.ok) problems.push(...checked.errors);
      return { name: m.name, requires: m.requires, requirements: checked.ok ? checked.requirements : undefined };
    });
    if (problems.length) throw AppError.badRequest(`invalid environment: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`, dedupe(problems));

    const envId = idempotencyKey ? environmentIdForIdempotencyKey(ownerId, idempotencyKey) : crypto.randomUUID();
    const workflowId = createEnvironmentWorkflowId(envId);
    const onMemberFailure = req.onMemberFailure ?? 'rollback';
    const plans = members.map((m) => ({ name: m.name, vmId: memberVmId(ownerId, envId, m.name), requires: m.requires, requirements: m.requirements! }));
    const fingerprint = crypto
      .createHash('sha256')
      .update(JSON.stringify({ name: req.name, cloud: req.cloud, accountId, onMemberFailure, preset: expanded.preset ?? null, plans, ...(group ? { backup: group } : {}), ...(req.restoreFrom ? { restoreFrom: req.restoreFrom } : {}) }))
      .digest('hex');

    // The record first (its unique _id settles two requests with one key), then the members.
    let replay = false;
    try {
      await whileBusy(() =>
        this.Env.create({
          _id: envId,
          ownerId,
          name: req.name,
          cloud: req.cloud,
          accountId,
          ...(expanded.preset ? { preset: expanded.preset } : {}),
          ...(req.restoreFrom ? { restoredFrom: { environmentId: req.restoreFrom.environmentId, pointId: req.restoreFrom.pointId } } : {}),
          onMemberFailure,
          state: 'creating',
          members: plans.map((p) => ({ name: p.name, vmId: p.vmId, requires: p.requires })),
          failedMembers: [],
          workflowIds: [workflowId],
          requestFingerprint: fingerprint,
        }),
      );
    } catch (err) {
      if ((err as { code?: number }).code !== 11000 || !idempotencyKey) throw err;
      const existing = await this.Env.findById(envId).lean();
      if (existing?.requestFingerprint !== fingerprint) throw AppError.conflict('this Idempotency-Key was already used for a different request', 'idempotency_key_reused');
      replay = true;
    }

    // Every member as an ordinary VM (quota slot, record); all of them or none.
    const admitted: AdmittedVm[] = [];
    try {
      for (const p of plans) {
        // A group policy's standbys count against the clouds' quotas like the members themselves.
        const standbys = group ? { backup: { baseStandby: group.targets.baseStandby, backupCloudStandby: group.targets.backupCloudStandby, backupAccountId: group.backupAccountId } } : {};
        admitted.push(await this.d.vms.admit(ownerId, { requirements: p.requirements, accountId, vmId: p.vmId, idempotent: true, environmentId: envId, network: environmentNetworkName(envId), ...standbys }));
      }
    } catch (err) {
      if (!replay) {
        await this.d.vms.withdrawAdmitted(admitted);
        await whileBusy(() => this.Env.deleteOne({ _id: envId, state: 'creating' }));
      }
      throw err;
    }

    const input: EnvironmentInput = {
      envId,
      ownerId,
      cloud: req.cloud,
      accountId,
      onMemberFailure,
      members: admitted.map((a, i) => {
        const from = fromBackup.get(plans[i].name);
        return { name: plans[i].name, vmId: a.vmId, requires: plans[i].requires, requirements: a.input.requirements, ...(from ? { fromBackup: from } : {}) };
      }),
    };
    const started = await this.start(CREATE_ENVIRONMENT_WORKFLOW, workflowId, input, ownerId, req.cloud, WorkflowIdReusePolicy.REJECT_DUPLICATE);
    // The group's schedule from the start (as POST /vms with `backup`): its runs skip until the environment is active.
    if (group && this.d.groups) await this.d.groups.save({ _id: envId, ownerId, members: plans }, group, 'backup.');
    return { environment: await this.get(ownerId, envId), workflowId, started: started && !replay };
  }

  /** Newest first, destroyed environments left out. */
  async list(ownerId: string, page: PageRequest = {}): Promise<{ environments: EnvironmentView[]; nextCursor?: string }> {
    const found = await pageOf(this.Env, { ownerId, state: { $ne: 'destroyed' } }, { field: 'createdAt', direction: -1 }, page, { max: PAGE_MAX, default: PAGE_DEFAULT });
    const vms = await this.memberVms(found.items);
    return { environments: found.items.map((e) => toEnvironmentView(e, vms)), ...(found.nextCursor ? { nextCursor: found.nextCursor } : {}) };
  }

  /** The owner's environment with its members' VM states, or 404 (another member's is "not found"). */
  async get(ownerId: string, envId: string): Promise<EnvironmentView> {
    const env = await this.record(ownerId, envId);
    return toEnvironmentView(env, await this.memberVms([env]));
  }

  /**
   * POST /environments/:id/retry: a `partial` environment (created with `keep`) creates its failed
   * members again, on the same network, leaving the members that run as they are. Each member VM
   * keeps its record and quota slot; the create graph runs again as `env-create:<id>:retry-<n>`.
   */
  async retry(ownerId: string, envId: string): Promise<StartedEnvironmentOperation> {
    const env = await this.record(ownerId, envId);
    if (env.state === 'creating' || env.state === 'destroying') throw AppError.conflict(`the environment is ${env.state}; retry when that finishes`, 'environment_busy');
    if (env.state !== 'partial') throw AppError.conflict(`the environment is ${env.state}: only a partial one (created with onMemberFailure "keep") has members to create again`, 'environment_not_partial');
    const vms = await this.memberVms([env]);
    const gone = env.members.filter((m) => ['deleted', 'deleting', undefined].includes(vms.get(m.vmId)?.state));
    if (gone.length) throw AppError.conflict(`members ${gone.map((m) => m.name).join(', ')} were deleted on their own; destroy the environment and create it again`, 'environment_member_deleted');
    const n = env.workflowIds.filter((w) => w.startsWith(`${createEnvironmentWorkflowId(envId)}:retry-`)).length + 1;
    const workflowId = retryEnvironmentWorkflowId(envId, n);
    // Written before the workflow starts (then only it writes the record), guarded by the state: of two retries at once, one starts.
    const moved = await whileBusy(() => this.Env.updateOne({ _id: envId, state: 'partial' }, { $set: { state: 'creating' }, $push: { workflowIds: workflowId } }));
    if (moved.matchedCount === 0) throw AppError.conflict('the environment is being retried already', 'environment_busy');
    const input: EnvironmentInput = {
      envId,
      ownerId,
      cloud: env.cloud,
      accountId: env.accountId,
      onMemberFailure: env.onMemberFailure,
      members: env.members.map((m) => ({ name: m.name, vmId: m.vmId, requires: [...m.requires], requirements: vms.get(m.vmId)!.requirements })),
      retry: true,
    };
    const started = await this.start(CREATE_ENVIRONMENT_WORKFLOW, workflowId, input, ownerId, env.cloud, WorkflowIdReusePolicy.REJECT_DUPLICATE);
    return { environment: await this.get(ownerId, envId), workflowId, started };
  }

  /** Starts the destroy graph (a running destroy is joined; a finished one that failed may be run again). */
  async destroy(ownerId: string, envId: string, opts: { finalBackup?: boolean } = {}): Promise<StartedEnvironmentOperation> {
    const env = await this.record(ownerId, envId);
    if (env.state === 'destroyed') throw AppError.conflict('the environment is already destroyed', 'environment_destroyed');
    if (env.state === 'creating') throw AppError.conflict('the environment is being created; destroy it when that finishes', 'environment_busy');
    const workflowId = destroyEnvironmentWorkflowId(envId);
    // The group's schedule goes first: no group run starts against members being deleted.
    await this.d.groups?.stopSchedule(envId);
    const input: DestroyEnvironmentInput = {
      envId,
      ownerId,
      cloud: env.cloud,
      accountId: env.accountId,
      members: env.members.map((m) => ({ name: m.name, vmId: m.vmId, requires: [...m.requires] })),
      finalBackup: opts.finalBackup ?? true,
    };
    // Written before the workflow starts (then only it writes the record): readers see the destroy at once.
    if (env.state !== 'destroying') await whileBusy(() => this.Env.updateOne({ _id: envId, state: env.state }, { $set: { state: 'destroying' }, $addToSet: { workflowIds: workflowId } }));
    const started = await this.start(DESTROY_ENVIRONMENT_WORKFLOW, workflowId, input, ownerId, env.cloud, WorkflowIdReusePolicy.ALLOW_DUPLICATE);
    return { environment: await this.get(ownerId, envId), workflowId, started };
  }

  /**
   * `restoreFrom`: the request's members become the earlier environment's (names, requirements,
   * what each requires), each with the backup of the point whose store copy it boots from. The
   * rest of the create is the same as for members given by hand.
   */
  private async restoredMembers(ownerId: string, req: CreateEnvironmentRequest): Promise<{ req: CreateEnvironmentRequest; fromBackup: Map<string, VmFromBackup> }> {
    const fromBackup = new Map<string, VmFromBackup>();
    if (!req.restoreFrom) return { req, fromBackup };
    const given = (['members', 'preset', 'number', 'size', 'os'] as const).filter((f) => req[f] !== undefined);
    if (given.length) throw AppError.badRequest('give members, a preset or restoreFrom, not more than one', given.map((f) => ({ field: f, message: 'not with restoreFrom' })));
    if (req.cloud !== 'openstack') throw AppError.badRequest('an environment is restored in the base cloud (OpenStack)', [{ field: 'cloud', message: 'must be "openstack" with restoreFrom' }]);
    const { environmentId, pointId } = req.restoreFrom;
    const source = await this.Env.findById(environmentId).lean();
    if (!source || source.ownerId !== ownerId) throw AppError.badRequest('no such environment to restore from', [{ field: 'restoreFrom.environmentId', message: 'no such environment of yours' }]);
    const point = await environmentBackupModel(this.d.db).findOne({ _id: pointId, envId: environmentId }).lean();
    if (!point) throw AppError.badRequest('no such group restore point of that environment', [{ field: 'restoreFrom.pointId', message: 'no such group restore point of that environment' }]);
    if (point.status === 'running') throw AppError.conflict('that group restore point is still being taken; restore from it when it has finished', 'backup_running');
    for (const m of point.members) {
      if (m.status !== 'succeeded' || !m.backupId) continue;
      const b = await backupModel(this.d.db).findById(m.backupId).lean();
      if (b?.store?.key && !b.retiredAt) fromBackup.set(m.name, { backupId: b._id, storeKey: b.store.key });
    }
    if (!fromBackup.size) throw AppError.conflict('no member of that group restore point has a copy left in the image store', 'no_backup');
    const vms = await this.memberVms([source]);
    const members = source.members.map((m) => {
      const { name: _name, cloud: _cloud, ...requirements } = (vms.get(m.vmId)?.requirements ?? {}) as Record<string, unknown>;
      return { ...requirements, name: m.name, requires: [...m.requires] } as EnvironmentMemberRequest;
    });
    return { req: { ...req, members }, fromBackup };
  }

  /** The create's group policy, checked before anything starts (400 naming `backup.<field>`). */
  private async groupPolicyOf(ownerId: string, req: CreateEnvironmentRequest): Promise<GroupPolicy | undefined> {
    if (req.backup === undefined) return undefined;
    if (!this.d.groups) throw AppError.badRequest('group backups are not available', [{ field: 'backup', message: 'not supported here' }]);
    if (req.cloud !== 'openstack') throw AppError.badRequest('backups are taken of VMs in the base cloud (OpenStack)', [{ field: 'backup', message: 'only for cloud "openstack"' }]);
    const policy = this.d.groups.parse(req.backup, 'backup.');
    await this.d.groups.checkAccount(ownerId, policy, 'backup.');
    return policy;
  }

  private async record(ownerId: string, envId: string): Promise<EnvironmentRecord> {
    const env = await this.Env.findById(envId).lean();
    if (!env || env.ownerId !== ownerId) throw AppError.notFound('environment');
    return env;
  }

  private async memberVms(envs: readonly EnvironmentRecord[]): Promise<Map<string, VmRecord>> {
    const ids = envs.flatMap((e) => e.members.map((m) => m.vmId));
    if (!ids.length) return new Map();
    const vms = await vmModel(this.d.db).find({ _id: { $in: ids } }).lean();
    return new Map(vms.map((v) => [v._id, v]));
  }

  /** The member's requirements checked against the catalog, or its errors named where the request has them. */
  private validateMember(m: ExpandedMember, fromPreset: boolean): { ok: true; requirements: VmRequirements } | { ok: false; errors: FieldError[] } {
    try {
      return { ok: true, requirements: this.d.vms.validate(m.requirements) };
    } catch (err) {
      if (!(err instanceof AppError) || !err.fields) throw err;
      // A preset's members are made of the request's size and os: errors name those.
      const where = (field: string) => (fromPreset ? (['size', 'os'].includes(field) ? field : 'preset') : field === 'cloud' ? 'cloud' : `${m.field}.${field}`);
      return { ok: false, errors: err.fields.map((f) => ({ field: where(f.field), message: f.message })) };
    }
  }

  private async start(type: string, workflowId: string, input: unknown, ownerId: string, cloud: CloudKind, policy: WorkflowIdReusePolicy): Promise<boolean> {
    try {
      await this.d.temporal.workflow.start(type, {
        workflowId,
        taskQueue: this.d.taskQueue,
        args: [input],
        workflowIdReusePolicy: policy,
        typedSearchAttributes: new TypedSearchAttributes([
          { key: VMFLOW_OWNER_KEY, value: ownerId },
          { key: VMFLOW_CLOUD_KEY, value: cloud },
        ]),
        memo: { ownerId },
      });
      return true;
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return false;
      throw err;
    }
  }
}

function expandOrRefuse(req: CreateEnvironmentRequest): ExpandedEnvironment {
  try {
    return expandEnvironment(req);
  } catch (err) {
    if (err instanceof EnvironmentRequestError) throw AppError.badRequest(`invalid environment: ${err.message}`, err.fields);
    throw err;
  }
}

function dedupe(fields: FieldError[]): FieldError[] {
  const seen = new Set<string>();
  return fields.filter((f) => {
    const k = `${f.field}\n${f.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

export function toEnvironmentView(e: EnvironmentRecord, vms: ReadonlyMap<string, VmRecord>): EnvironmentView {
  return {
    id: e._id,
    name: e.name,
    cloud: e.cloud,
    accountId: e.accountId,
    ...(e.preset ? { preset: e.preset as EnvironmentView['preset'] } : {}),
    ...(e.restoredFrom ? { restoredFrom: { environmentId: e.restoredFrom.environmentId, pointId: e.restoredFrom.pointId } } : {}),
    onMemberFailure: e.onMemberFailure,
    state: e.state,
    members: e.members.map((m) => {
      const vm = vms.get(m.vmId);
      return {
        name: m.name,
        vmId: m.vmId,
        requires: [...m.requires],
        // A VM record removed by the member's withdrawal: nothing of it is left.
        state: vm?.state ?? 'deleted',
        ...(vm?.placement ? { placement: vm.placement } : {}),
        ...(vm?.lastError ? { lastError: vm.lastError } : {}),
      };
    }),
    ...(e.network ? { network: { name: e.network.name, networkId: e.network.networkId, ...(e.network.stackId ? { stackId: e.network.stackId } : {}) } } : {}),
    ...(e.graph ? { graph: { kind: e.graph.kind, tasks: e.graph.tasks.map((t) => ({ ...t, requires: [...t.requires] })) } } : {}),
    failedMembers: [...(e.failedMembers ?? [])],
    ...(e.lastError ? { lastError: e.lastError } : {}),
    workflowIds: [...(e.workflowIds ?? [])],
    createdAt: new Date(e.createdAt).toISOString(),
    updatedAt: new Date(e.updatedAt).toISOString(),
  };
}
