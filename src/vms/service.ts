/**
 * VM use cases behind the REST API (practica's domain layer): each method reads like a summary of
 * the flow. The API only inserts the VM document and starts workflows; from then on the VM's
 * workflows are the document's only writer. Concurrency between requests is settled by Temporal's
 * workflow-ID uniqueness (one create, one update per revision, one delete), and the VM quota by
 * inserting a quota-slot claim whose _id only one request can insert (quota-slots.ts).
 */
import crypto from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { WorkflowIdReusePolicy } from '@temporalio/common';
import type { Connection } from 'mongoose';
import { whileBusy } from '../db/connection';
import { findSize, type Catalog } from '../catalog';
import type { AdmissionGate } from '../limits/admission';
import { PROGRESS_QUERY, type WorkflowProgress } from '../contracts/progress';
import {
  CREATE_VM_STEPS,
  CREATE_VM_WORKFLOW,
  DELETE_VM_STEPS,
  DELETE_VM_WORKFLOW,
  UPDATE_VM_STEPS,
  UPDATE_VM_WORKFLOW,
  createVmWorkflowId,
  deleteVmWorkflowId,
  updateVmWorkflowId,
  type CloudKind,
  type CreateVmInput,
  type DeleteVmInput,
  type UpdateVmInput,
} from '../contracts/vm';
import { PAGE_DEFAULT, type OperationStatus } from '../contracts/api/common';
import { MUTABLE_REQUIREMENTS, VMS_PAGE_MAX, type VmDetail, type VmView } from '../contracts/api/vms';
import { AppError } from '../errors';
import { quotaExceeded } from '../limits/quotas';
import { claimIsFresh, claimVmSlot, releaseVmSlot, type QuotaSlotClaim } from './quota-slots';
import type { CloudQuotas } from './cloud-quota';
import { pageOf, type PageRequest } from '../limits/pages';
import { validateRequirements, vmRequirementsSchema, type VmRequirements } from '../templates';
import { vmModel, type VmRecord } from './model';
import { VMFLOW_OWNER_KEY, VMFLOW_VM_KEY } from './search';
import { markVmListChanged, vmListVersion } from './list-version';
import { recordOperationStarting, vmOperationModel, type VmOperationRecord } from './operations';
import { startOrJoin } from './start';
import { planUpdate, type UpdatePlan } from './update-plan';
import { backupPolicyModel } from '../backups/model';
import { environmentBackupPolicyModel } from '../environments/backup-model';
import { drWorkflowId } from '../contracts/dr';

export interface VmServiceDeps {
  db: Connection;
  temporal: Client;
  taskQueue: string;
  namespace: string;
  catalog: () => Catalog;
  /** Resolves an account the member may use (own or operator); undefined → 404 for the member. */
  findAccount(accountId: string, userId: string): Promise<{ id: string; kind: CloudKind } | undefined>;
  /** The operator account of a cloud, used when the request names none. */
  operatorAccountId(cloud: CloudKind): string;
  /** VMs (not deleted) one member may have (src/limits/quotas.ts); unset: no limit. */
  maxVmsPerMember?: number;
  /** The clouds' own quotas, checked before a create (unset: left to the clouds). */
  cloudQuotas?: CloudQuotas;
  /** Bounds creates at once (src/limits/admission.ts); environments go through the same gate. Unset: no bound. */
  createGate?: AdmissionGate;
}

/** A VM admitted for its createVm workflow (VmService#admit). */
export interface AdmittedVm {
  vmId: string;
  workflowId: string;
  input: CreateVmInput;
  /** The same idempotent request admitted it before (nothing new was inserted). */
  replay: boolean;
  /** The quota slot this admission won (given back if the create never starts). */
  slot?: QuotaSlotClaim;
  /** The VM as admitted (inserted now, or found for a replay): the create's answer, without reading it again. */
  record: VmRecord;
}

export interface StartedOperation {
  vm: VmView;
  workflowId: string;
  /** false when an Idempotency-Key replay found the operation already started. */
  started: boolean;
  /** PATCH: what the change does to the running VM. */
  plan?: UpdatePlan;
}

export function toVmView(d: VmRecord): VmView {
  return {
    id: d._id,
    name: d.name,
    cloud: d.cloud,
    accountId: d.accountId,
    state: d.state,
    requirements: d.requirements,
    revision: d.revision ?? 0,
    ...(d.environmentId ? { environmentId: d.environmentId } : {}),
    ...(d.placement ? { placement: d.placement } : {}),
    ...(d.lastError ? { lastError: d.lastError } : {}),
    history: (d.history ?? []).map((h) => ({ at: new Date(h.at).toISOString(), from: h.from ?? null, to: h.to, reason: h.reason, ...(h.workflowId ? { workflowId: h.workflowId } : {}) })),
    workflowIds: d.workflowIds ?? [],
    createdAt: new Date(d.createdAt).toISOString(),
    updatedAt: new Date(d.updatedAt).toISOString(),
  };
}

/** Same owner + same Idempotency-Key ⇒ same VM id (a UUID-shaped SHA-256 of both). */
export function vmIdForIdempotencyKey(ownerId: string, key: string): string {
  const h = crypto.createHash('sha256').update(`${ownerId}\n${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16], 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function requestFingerprint(body: unknown): string {
  return crypto.createHash('sha256').update(JSON.stringify(body)).digest('hex');
}

/** One page of a member's VMs, as GET /vms answers it. */
type VmPage = { vms: VmView[]; nextCursor?: string };

/** Pages of members' VM lists the API keeps (least recently read dropped first). */
const LISTS_KEPT = 2000;
/** Closed operations the API keeps (oldest dropped first). */
const CLOSED_OPS_KEPT = 20_000;

export class VmService {
  private readonly lists = new Map<string, { version: string | undefined; page: VmPage }>();
  private readonly closedOps = new Map<string, OperationStatus>();
  private readonly listLoads = new Map<string, Promise<VmPage>>();

  constructor(private readonly d: VmServiceDeps) {}

  private get Vm() {
    return vmModel(this.d.db);
  }

  /** The database (for readers beside the VM records: src/vms/summaries.ts). */
  get db(): Connection {
    return this.d.db;
  }

  private get Ops() {
    return vmOperationModel(this.d.db);
  }

  /** Validates the requirements against the catalog; throws 400 naming every bad field. */
  validate(input: unknown): VmRequirements {
    const result = validateRequirements(input, this.d.catalog());
    if (!result.ok) throw AppError.badRequest(`invalid VM requirements: ${result.errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, result.errors);
    return result.value;
  }

  /**
   * `backup`: where the backup policy given with the create puts standbys (they count against the
   * clouds' quotas like the VM itself).
   */
  /** Runs a create (of a VM, or an environment's members) through the create gate. */
  admission<T>(fn: () => Promise<T>): Promise<T> {
    return this.d.createGate ? this.d.createGate.run(fn) : fn();
  }

  async create(ownerId: string, body: { requirements: unknown; accountId?: string; backup?: { baseStandby: boolean; backupCloudStandby: boolean; backupAccountId: string } }, idempotencyKey?: string): Promise<StartedOperation> {
    return this.admission(() => this.admitAndStart(ownerId, body, idempotencyKey));
  }

  private async admitAndStart(ownerId: string, body: { requirements: unknown; accountId?: string; backup?: { baseStandby: boolean; backupCloudStandby: boolean; backupAccountId: string } }, idempotencyKey?: string): Promise<StartedOperation> {
    const admitted = await this.admit(ownerId, { ...body, ...(idempotencyKey ? { vmId: vmIdForIdempotencyKey(ownerId, idempotencyKey), idempotent: true } : {}) });
    const { vmId, workflowId, input } = admitted;
    // Not started: a replayed request, the create already runs or ran.
    const started = await startOrJoin(this.d.temporal, CREATE_VM_WORKFLOW, {
      workflowId, taskQueue: this.d.taskQueue, args: [input], workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE, ownerId, vmId, cloud: input.cloud,
    });
    // The record as admitted: reading it back cost a create a sixth of its time under load (issue 13).
    return { vm: toVmView(admitted.record), workflowId, started: started && !admitted.replay };
  }

  /**
   * Admits a VM for its createVm workflow — the one path by which a VM comes to be: its
   * requirements and account checked, its quota slot won, the clouds' quotas asked, the VM record
   * inserted (state `creating`) with its operation record. create() then starts the workflow; an
   * environment (src/environments/service.ts) starts it as a child of its own graph.
   * `vmId` with `idempotent`: a repeat of the same request answers the VM admitted first
   * (`replay`), a different one 409 idempotency_key_reused.
   */
  async admit(
    ownerId: string,
    body: {
      requirements: unknown;
      accountId?: string;
      backup?: { baseStandby: boolean; backupCloudStandby: boolean; backupAccountId: string };
      vmId?: string;
      idempotent?: boolean;
      /** A member of this environment, on this network (by name). */
      environmentId?: string;
      network?: string;
    },
  ): Promise<AdmittedVm> {
    const requirements = this.validate(body.requirements);
    const accountId = body.accountId ?? this.d.operatorAccountId(requirements.cloud);
    const account = await this.d.findAccount(accountId, ownerId);
    if (!account) throw new AppError(400, 'validation_failed', `cloud account ${accountId} not found`, [{ field: 'accountId', message: 'no such cloud account' }]);
    if (account.kind !== requirements.cloud) {
      throw AppError.badRequest(`cloud account ${accountId} is a ${account.kind} account, not ${requirements.cloud}`, [{ field: 'accountId', message: `not a ${requirements.cloud} account` }]);
    }

    const idempotent = !!body.idempotent && !!body.vmId;
    const vmId = body.vmId ?? crypto.randomUUID();
    const workflowId = createVmWorkflowId(vmId);
    const max = this.d.maxVmsPerMember;
    // A replayed idempotent request is answered even at the quota (its VM already counts).
    // Otherwise the create must win a quota slot first (quota-slots.ts: exact under a burst).
    const known = idempotent && !!(await this.Vm.exists({ _id: vmId }));
    let slot: QuotaSlotClaim | undefined;
    if (max !== undefined && !known) {
      const claimed = await claimVmSlot(this.d.db, ownerId, vmId, max);
      if (!claimed.ok) throw quotaExceeded('vms', max, `you have ${claimed.held} VMs; delete one before creating another`);
      slot = claimed.claim;
    }
    // Then the clouds' own quotas (cloud-quota.ts): a VM that cannot fit is refused before
    // anything starts, and its member slot goes back.
    if (this.d.cloudQuotas && !known) {
      try {
        await this.d.cloudQuotas.check(this.d.cloudQuotas.need({ cloud: requirements.cloud, accountId, size: requirements.size, ...(body.backup ? { backup: body.backup } : {}) }));
      } catch (err) {
        if (slot) await releaseVmSlot(this.d.db, slot).catch(() => undefined);
        throw err;
      }
    }
    const fingerprint = requestFingerprint({ requirements, accountId });
    let replay = false;
    let inserted = false;
    let record: VmRecord;
    try {
      // Past the claim's deadline another create may take the slot over: give it back instead.
      if (slot && !claimIsFresh(slot)) throw new AppError(503, 'busy', 'the database is too slow to create a VM right now; try again shortly', undefined, { retryAfterSeconds: 1 });
      // Retried while the embedded database answers busy (the insert did not happen then).
      const created = await whileBusy(() => this.Vm.create({
        _id: vmId,
        ownerId,
        name: requirements.name,
        cloud: requirements.cloud,
        accountId,
        requirements,
        revision: 0,
        state: 'creating',
        ...(body.environmentId ? { environmentId: body.environmentId } : {}),
        ...(body.network ? { network: body.network } : {}),
        workflowIds: [workflowId],
        history: [{ at: new Date(), from: null, to: 'creating', reason: body.environmentId ? `create requested (environment ${body.environmentId})` : 'create requested', workflowId }],
        requestFingerprint: fingerprint,
      }));
      inserted = true;
      record = created.toObject() as VmRecord;
      await markVmListChanged(this.d.db, ownerId);
    } catch (err) {
      // Surely not inserted (the id is taken, or the claim's deadline passed): the slot goes back.
      // Another failure may have inserted it after all: the claim stays (lapses if no VM is there).
      const notInserted = !inserted && ((err as { code?: number }).code === 11000 || (err instanceof AppError && err.status === 503));
      if (slot && notInserted) await releaseVmSlot(this.d.db, slot).catch(() => undefined);
      if ((err as { code?: number }).code !== 11000 || !idempotent) throw err;
      const existing = await this.Vm.findById(vmId).lean();
      if (!existing || (existing as VmRecord & { requestFingerprint?: string }).requestFingerprint !== fingerprint) {
        throw AppError.conflict('this Idempotency-Key was already used for a different request', 'idempotency_key_reused');
      }
      record = existing as VmRecord;
      replay = true;
    }

    const input: CreateVmInput = { vmId, ownerId, accountId, cloud: requirements.cloud, requirements, ...(body.network ? { network: body.network } : {}) };
    await recordOperationStarting(this.d.db, { workflowId, vmId, ownerId, kind: 'createVm', steps: CREATE_VM_STEPS });
    return { vmId, workflowId, input, replay, record, ...(slot ? { slot } : {}) };
  }

  /**
   * Takes back VMs admitted for a create that will not start (an environment whose later member
   * was refused): their records go and their quota slots are given back. Only VMs still
   * `creating` with no workflow run: nothing of them exists in a cloud.
   */
  async withdrawAdmitted(admitted: readonly AdmittedVm[]): Promise<void> {
    for (const a of admitted) {
      if (a.replay) continue;
      await whileBusy(() => this.Vm.deleteOne({ _id: a.vmId, state: 'creating' }));
      await whileBusy(() => this.Ops.deleteOne({ _id: a.workflowId }));
      if (a.slot) await releaseVmSlot(this.d.db, a.slot).catch(() => undefined);
      await markVmListChanged(this.d.db, a.input.ownerId);
    }
  }

  /**
   * A page of the member's VMs, newest first: the page kept from the last read while the member's
   * list stamp (list-version.ts) is unchanged — one lookup by _id — else read anew.
   */
  async list(ownerId: string, opts: { includeDeleted?: boolean } & PageRequest = {}): Promise<VmPage> {
    const key = [ownerId, opts.includeDeleted ? 'all' : 'live', opts.limit ?? '', opts.cursor ?? ''].join('\n');
    const version = await vmListVersion(this.d.db, ownerId);
    const kept = this.lists.get(key);
    if (kept && kept.version === version) {
      // Most recently used last: the oldest entry is the first to go.
      this.lists.delete(key);
      this.lists.set(key, kept);
      return kept.page;
    }
    // Requests that miss together share one read (a burst must not become a burst of scans).
    const loadKey = `${key}\n${version ?? ''}`;
    let loading = this.listLoads.get(loadKey);
    if (!loading) {
      const filter: Record<string, unknown> = { ownerId };
      if (!opts.includeDeleted) filter.state = { $ne: 'deleted' };
      loading = pageOf(this.Vm, filter, { field: 'createdAt', direction: -1 }, opts, { max: VMS_PAGE_MAX, default: PAGE_DEFAULT })
        .then((found): VmPage => ({ vms: found.items.map(toVmView), ...(found.nextCursor ? { nextCursor: found.nextCursor } : {}) }))
        .finally(() => this.listLoads.delete(loadKey));
      this.listLoads.set(loadKey, loading);
    }
    const page = await loading;
    this.lists.delete(key);
    this.lists.set(key, { version, page });
    while (this.lists.size > LISTS_KEPT) this.lists.delete(this.lists.keys().next().value!);
    return page;
  }

  /** The owner's VM or 404 (another member's VM is "not found", never its data). */
  async get(ownerId: string, vmId: string): Promise<VmRecord> {
    const doc = await this.Vm.findById(vmId).lean();
    if (!doc || doc.ownerId !== ownerId) throw AppError.notFound('VM');
    return doc;
  }

  /**
   * The VM with the progress of its newest workflow: the VM and that operation's record, each read
   * by _id; Temporal is asked only while the workflow has not been seen closed (see operationStatus).
   */
  async getWithProgress(ownerId: string, vmId: string): Promise<VmDetail> {
    const doc = await this.get(ownerId, vmId);
    const workflowId = doc.workflowIds[doc.workflowIds.length - 1];
    if (!workflowId) return { vm: toVmView(doc) };
    // A closed operation's record no longer changes while the VM record does not (a new run of the
    // same id — a delete retried — writes the VM record first thing): kept per VM record version.
    const key = `${workflowId}\n${new Date(doc.updatedAt).getTime()}`;
    let operation = this.closedOps.get(key);
    if (!operation) {
      operation = await this.operationStatus(workflowId, { vmId, ownerId });
      if (!['RUNNING', 'NOT_STARTED', 'UNKNOWN', 'UNSPECIFIED'].includes(operation.status)) {
        this.closedOps.set(key, operation);
        if (this.closedOps.size > CLOSED_OPS_KEPT) this.closedOps.delete(this.closedOps.keys().next().value!);
      }
    }
    return { vm: toVmView(doc), operation };
  }

  async update(ownerId: string, vmId: string, patch: Record<string, unknown>, confirm?: 'replace'): Promise<StartedOperation> {
    const doc = await this.get(ownerId, vmId);
    const fixed = Object.keys(patch).filter((k) => !(MUTABLE_REQUIREMENTS as readonly string[]).includes(k));
    if (fixed.length) {
      throw AppError.badRequest(`these fields cannot be changed: ${fixed.join(', ')}`, fixed.map((f) => ({ field: f, message: vmRequirementsSchema.shape[f as keyof typeof vmRequirementsSchema.shape] ? 'fixed for the life of the VM' : 'unknown field' })));
    }
    if (Object.keys(patch).length === 0) throw AppError.badRequest('nothing to change', [{ field: '(body)', message: `give one of ${MUTABLE_REQUIREMENTS.join(', ')}` }]);
    if (doc.state !== 'active') throw AppError.conflict(`VM is ${doc.state}; it can be changed when active`, 'vm_busy');
    // After a failover the VM runs in the other cloud (changed after failback), or on a promoted
    // standby no Heat stack owns: Nova can resize that server, but nothing re-renders its user data.
    if (doc.placement && doc.placement.cloud !== doc.cloud) {
      throw AppError.conflict('the VM runs in the backup cloud after a failover; it can be changed after failback', 'vm_failed_over');
    }
    if (doc.placement && doc.cloud === 'openstack' && !doc.placement.stackId && Object.keys(patch).some((k) => k !== 'size')) {
      throw AppError.conflict('the VM runs on a promoted standby outside its Heat stack: only its size can change now (Nova resize); restore it from a backup to bring it back into its stack first', 'vm_failed_over');
    }
    const requirements = this.validate({ ...doc.requirements, ...patch });
    // Disks only grow: Nova refuses to resize to a smaller root disk, and a backup taken at the
    // larger size would no longer fit the flavor to restore it into.
    const [was, will] = [findSize(this.d.catalog(), doc.requirements.size), findSize(this.d.catalog(), requirements.size)];
    if (was && will && will.diskGiB < was.diskGiB) {
      throw new AppError(409, 'disk_cannot_shrink', `size: ${requirements.size} has a ${will.diskGiB} GiB disk, smaller than the ${was.diskGiB} GiB of ${doc.requirements.size}; a VM can grow but not shrink its disk (create a smaller VM and move the data)`, [{ field: 'size', message: `disk ${was.diskGiB} → ${will.diskGiB} GiB would shrink` }]);
    }
    // Say what the change does before doing it: one that replaces the server needs a yes.
    // A member of an environment with a group backup policy is backed up under that policy.
    const hasBackupPolicy = !!(await backupPolicyModel(this.d.db).exists({ _id: vmId })) || (!!doc.environmentId && !!(await environmentBackupPolicyModel(this.d.db).exists({ _id: doc.environmentId })));
    const plan = planUpdate(doc.cloud, doc.requirements, requirements, { hasBackupPolicy });
    if (plan.replaced.length && confirm !== 'replace') {
      throw new AppError(409, 'confirmation_required', `this change replaces the server (${plan.replaced.map((c) => c.field).join(', ')}): data written to its disk is lost; send it again with ?confirm=replace to go ahead`, undefined, { details: { plan } });
    }
    const revision = (doc.revision ?? 0) + 1;
    const workflowId = updateVmWorkflowId(vmId, revision);
    const input: UpdateVmInput = { vmId, ownerId, requirements, revision, ...(plan.replaced.length && hasBackupPolicy ? { backupFirst: true } : {}) };
    await recordOperationStarting(this.d.db, { workflowId, vmId, ownerId, kind: 'updateVm', steps: UPDATE_VM_STEPS });
    const started = await startOrJoin(this.d.temporal, UPDATE_VM_WORKFLOW, {
      workflowId, taskQueue: this.d.taskQueue, args: [input], workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE, ownerId, vmId, cloud: doc.cloud,
    });
    if (!started) throw AppError.conflict('another change to this VM is already running', 'vm_busy');
    return { vm: toVmView(doc), workflowId, started: true, plan };
  }

  async delete(ownerId: string, vmId: string): Promise<StartedOperation> {
    const doc = await this.get(ownerId, vmId);
    if (doc.state === 'deleted') throw AppError.conflict('VM is already deleted', 'vm_deleted');
    if (doc.state === 'creating' || doc.state === 'updating') throw AppError.conflict(`VM is ${doc.state}; delete it when that finishes`, 'vm_busy');
    const workflowId = deleteVmWorkflowId(vmId);
    const input: DeleteVmInput = { vmId, ownerId };
    await recordOperationStarting(this.d.db, { workflowId, vmId, ownerId, kind: 'deleteVm', steps: DELETE_VM_STEPS });
    // A failed delete may be retried by deleting again; a running one is joined.
    const started = await startOrJoin(this.d.temporal, DELETE_VM_WORKFLOW, {
      workflowId, taskQueue: this.d.taskQueue, args: [input], workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY, ownerId, vmId, cloud: doc.cloud,
    });
    return { vm: toVmView(doc), workflowId, started };
  }

  /**
   * Status and progress of a workflow the member owns (its VmflowOwnerId search attribute, or the
   * owner on its operation record), or 404.
   */
  async workflowFor(ownerId: string, workflowId: string): Promise<OperationStatus> {
    const rec = await this.Ops.findById(workflowId).lean();
    if (rec) {
      if (rec.ownerId !== ownerId) throw AppError.notFound('workflow');
      return this.operationStatus(workflowId, { vmId: rec.vmId, ownerId }, rec);
    }
    let owner: string | undefined;
    let vmId: string | undefined;
    try {
      const desc = await this.d.temporal.workflow.getHandle(workflowId).describe();
      owner = desc.typedSearchAttributes.get(VMFLOW_OWNER_KEY);
      vmId = desc.typedSearchAttributes.get(VMFLOW_VM_KEY);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw AppError.notFound('workflow');
      throw err;
    }
    if (owner !== ownerId) throw AppError.notFound('workflow');
    return this.operationStatus(workflowId, vmId ? { vmId, ownerId } : undefined, null);
  }

  /**
   * A workflow's status and progress, for readers (issue 13: reads never replay histories).
   * - Seen closed before (its record says so): the record alone; Temporal is not asked.
   * - Otherwise one describe (the workflow's status, no history replay). Closed now: the status
   *   is recorded for every later read (`owner` given), with the progress the workflow wrote.
   * - Running: the progress the workflow writes at every step; only a run that writes none (begun
   *   by a worker from before progress was written) is queried — while it runs, never after.
   * `rec` is the operation record when the caller has read it already.
   */
  async operationStatus(workflowId: string, owner?: { vmId: string; ownerId: string }, rec?: VmOperationRecord | null): Promise<OperationStatus> {
    if (rec === undefined) rec = await this.Ops.findById(workflowId).lean();
    if (rec?.closed) return { workflowId, status: rec.closed.status, ...(rec.progress ? { progress: rec.progress } : {}) };
    const handle = this.d.temporal.workflow.getHandle(workflowId);
    let status: string;
    let runId: string;
    try {
      const desc = await handle.describe();
      status = desc.status.name;
      runId = desc.runId;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return { workflowId, status: 'NOT_STARTED' };
      throw err;
    }
    if (status !== 'RUNNING') {
      if (owner && status !== 'UNSPECIFIED') {
        // Closed: the run writes no more, so this is the record's last change (unless a new run
        // of the same id has written meanwhile: then the record is that run's).
        await this.Ops.updateOne(
          { _id: workflowId, $or: [{ runId }, { runId: { $exists: false } }] },
          { $set: { vmId: owner.vmId, ownerId: owner.ownerId, closed: { status, at: new Date() } } },
        ).then(async (r) => {
          if (!r.matchedCount && !rec) await recordClosed(this.Ops, workflowId, owner, status);
        });
      }
      return { workflowId, status, ...(rec?.progress ? { progress: rec.progress } : {}) };
    }
    if (rec?.progress) return { workflowId, status, progress: rec.progress };
    // drVm answers no progress query (its state is GET …/dr): asking would only make a worker load it.
    if (workflowId.startsWith(drWorkflowId(''))) return { workflowId, status };
    let progress: WorkflowProgress | undefined;
    try {
      progress = await handle.query<WorkflowProgress>(PROGRESS_QUERY);
    } catch {
      // No worker to answer (or the workflow never ran a task): status alone still says something.
    }
    return { workflowId, status, ...(progress ? { progress } : {}) };
  }
}

/** A closed workflow that never wrote a record (begun before records were written): its status, once. */
async function recordClosed(Ops: ReturnType<typeof vmOperationModel>, workflowId: string, owner: { vmId: string; ownerId: string }, status: string): Promise<void> {
  try {
    await Ops.collection.insertOne({ _id: workflowId, vmId: owner.vmId, ownerId: owner.ownerId, closed: { status, at: new Date() }, updatedAt: new Date() } as never);
  } catch (err) {
    if ((err as { code?: number }).code !== 11000) throw err;
  }
}
