/**
 * /api/v1/vms and /api/v1/workflows — thin routes over VmService. Every route is behind the
 * session gate; every lookup is scoped to the session's member (another's VM answers 404).
 */
import { z } from 'zod';
import type { BackupService } from '../../src/backups/service';
import { operationStatusSchema, workflowIdParams } from '../../src/contracts/api/common';
import {
  createVmDrSchema,
  createVmRequestSchema,
  type CreateVmDr,
  idempotencyKeyHeader,
  listVmsQuery,
  updateVmQuery,
  vmAcceptedSchema,
  vmDetailSchema,
  vmListSchema,
  vmParams,
  vmPatchSchema,
  type VmAccepted,
} from '../../src/contracts/api/vms';
import { AppError, parseInput } from '../../src/errors';
import { guestHealthCheckSchema, type GuestHealthCheck } from '../../src/dr/guest-checks';
import type { DrService } from '../../src/dr/service';
import type { StartedOperation, VmService } from '../../src/vms/service';
import type { ApiScope } from '../openapi';
import { idempotencyKeyOf } from './idempotency';
import { userId, vmId } from './params';
import { withSummaries } from '../../src/vms/summaries';

function accepted(op: StartedOperation): VmAccepted {
  return {
    ...(op.plan ? { plan: op.plan } : {}),
    vm: op.vm,
    operation: {
      workflowId: op.workflowId,
      started: op.started,
      status: `/api/v1/workflows/${encodeURIComponent(op.workflowId)}`,
    },
  };
}

const jsonObject = z.record(z.string(), z.unknown(), { error: 'the body must be a JSON object' });
const NOT_FOUND = 'no such VM, or another member’s';

export function vmRoutes(api: ApiScope, vms: VmService, backups?: BackupService, dr?: DrService): void {
  api.route(
    {
      method: 'post',
      path: '/vms',
      operationId: 'createVm',
      tag: 'vms',
      summary: 'Create a VM (starts the createVm workflow)',
      headers: idempotencyKeyHeader,
      body: createVmRequestSchema(backups?.policySchema, !!dr),
      responses: { 202: { description: 'the VM record and its create workflow', body: vmAcceptedSchema, headers: ['Location'] } },
      errors: {
        400: 'validation_failed: fields name every bad requirement, accountId, backup or the Idempotency-Key header',
        409: 'idempotency_key_reused: the key was used for a different request; quota_exceeded: the member has as many VMs as allowed (QUOTA_VMS); cloud_quota_exceeded: the cloud’s own quota (Nova limits, CloudStack resource limits) has no room for the VM and the standbys its backup policy makes (the message says which limit, how much is in use and what the VM needs)',
        503: 'busy: too many creates at once in this API process (CREATE_CONCURRENCY, CREATE_QUEUE) or the database is too slow to claim a quota slot; Retry-After says when to try again',
      },
    },
    async (req, res) => {
      const body = parseInput(jsonObject, req.body ?? undefined);
      const { accountId, backup, healthCheck, dr: drRequest, ...requirements } = body;
      if (accountId !== undefined && typeof accountId !== 'string') throw AppError.badRequest('accountId must be a string', [{ field: 'accountId', message: 'must be a string' }]);
      const key = idempotencyKeyOf(req);
      // A backup period given at create time (UC-008): checked before anything starts.
      let standbys: { baseStandby: boolean; backupCloudStandby: boolean; backupAccountId: string } | undefined;
      if (backup !== undefined) {
        if (!backups) throw AppError.badRequest('backups are not available', [{ field: 'backup', message: 'not supported here' }]);
        if (requirements.cloud !== 'openstack') throw AppError.badRequest('backups are taken of VMs in the base cloud (OpenStack)', [{ field: 'backup', message: 'only for cloud "openstack"' }]);
        try {
          const p = backups.parsePolicy(backup);
          standbys = { baseStandby: p.targets.baseStandby, backupCloudStandby: p.targets.backupCloudStandby, backupAccountId: p.backupAccountId ?? backups.defaultBackupAccountId };
        } catch (err) {
          if (err instanceof AppError && err.fields) throw AppError.badRequest(err.message, err.fields.map((f) => ({ field: `backup.${f.field}`, message: f.message })));
          throw err;
        }
      }
      // A guest health check (src/dr/guest-checks.ts) is kept for when the VM is protected.
      let check: GuestHealthCheck | undefined;
      if (healthCheck !== undefined) {
        if (!dr) throw AppError.badRequest('guest health checks are not available', [{ field: 'healthCheck', message: 'not supported here' }]);
        if (requirements.cloud !== 'openstack') throw AppError.badRequest('guest health checks serve disaster recovery, which protects VMs of the base cloud (OpenStack)', [{ field: 'healthCheck', message: 'only for cloud "openstack"' }]);
        try {
          check = parseInput(guestHealthCheckSchema, healthCheck, 'healthCheck');
        } catch (err) {
          if (err instanceof AppError && err.fields) throw AppError.badRequest(err.message, err.fields.map((f) => ({ field: `healthCheck.${f.field}`, message: f.message })));
          throw err;
        }
      }
      // Protection from the start (as PUT …/dr): checked before anything starts.
      let protectWith: CreateVmDr | undefined;
      if (drRequest !== undefined) {
        if (!dr) throw AppError.badRequest('disaster recovery is not available', [{ field: 'dr', message: 'not supported here' }]);
        if (requirements.cloud !== 'openstack') throw AppError.badRequest('disaster recovery protects VMs of the base cloud (OpenStack)', [{ field: 'dr', message: 'only for cloud "openstack"' }]);
        try {
          protectWith = parseInput(createVmDrSchema, drRequest, 'dr');
        } catch (err) {
          if (err instanceof AppError && err.fields) throw AppError.badRequest(err.message, err.fields.map((f) => ({ field: f.field === '(body)' ? 'dr' : `dr.${f.field}`, message: f.message })));
          throw err;
        }
      }
      const op = await vms.create(userId(req), { requirements, accountId, ...(standbys ? { backup: standbys } : {}) }, key);
      if (backup !== undefined && backups) await backups.setPolicy(userId(req), op.vm.id, backup);
      if (check && dr) await dr.declareHealthCheck(userId(req), op.vm.id, check);
      // The DR workflow starts now and idles until the VM runs (the monitor watches active VMs only).
      if (protectWith && dr) await dr.protect(userId(req), op.vm.id, { ...protectWith, enabled: true });
      res.status(202).location(`/api/v1/vms/${op.vm.id}`).json(accepted(op));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/vms',
      operationId: 'listVms',
      tag: 'vms',
      summary: 'The caller’s VMs',
      query: listVmsQuery,
      responses: { 200: { description: 'the VMs', body: vmListSchema } },
      errors: { 400: 'validation_failed: includeDeleted is not true or false, a bad limit or cursor' },
    },
    async (req, res) => {
      const query = parseInput(listVmsQuery, { ...req.query }, 'query');
      const includeDeleted = query.includeDeleted === 'true';
      const page = await vms.list(userId(req), { includeDeleted, limit: query.limit, cursor: query.cursor });
      // Each VM's DR summary and next backup, read in bulk for the page (no request per row).
      res.json({ ...page, vms: await withSummaries(vms.db, userId(req), page.vms) });
    },
  );

  api.route(
    {
      method: 'get',
      path: '/vms/:id',
      operationId: 'getVm',
      tag: 'vms',
      summary: 'One VM, with the live progress of its newest workflow',
      params: vmParams,
      responses: { 200: { description: 'the VM', body: vmDetailSchema } },
      errors: { 400: 'invalid id', 404: NOT_FOUND },
    },
    async (req, res) => {
      const id = vmId(req);
      // No DR summary or next backup here (the list has them; GET …/dr has the whole DR view): four
      // more queries per read doubled what a VM page's polling costs the database (issue 13).
      res.json(await vms.getWithProgress(userId(req), id));
    },
  );

  api.route(
    {
      method: 'patch',
      path: '/vms/:id',
      operationId: 'updateVm',
      tag: 'vms',
      summary: 'Change size, software, keys, users or commands (starts the updateVm workflow)',
      params: vmParams,
      query: updateVmQuery,
      body: vmPatchSchema,
      responses: { 202: { description: 'the update workflow started; `plan` says what it does', body: vmAcceptedSchema, headers: ['Location'] } },
      errors: {
        400: 'validation_failed: a fixed or unknown field, nothing to change, a bad requirement, or confirm other than replace',
        404: NOT_FOUND,
        409: 'vm_busy: the VM is not active or another change runs; vm_failed_over: it runs on a DR standby until failback; confirmation_required: the change replaces the server (error.plan says what changes how); disk_cannot_shrink: the new size has a smaller disk',
      },
    },
    async (req, res) => {
      const id = vmId(req);
      const patch = parseInput(jsonObject, req.body ?? undefined);
      // A change that replaces the server is applied only when confirmed (?confirm=replace).
      const { confirm } = parseInput(updateVmQuery, { confirm: req.query.confirm });
      const op = await vms.update(userId(req), id, patch, confirm);
      res.status(202).location(`/api/v1/vms/${id}`).json(accepted(op));
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/vms/:id',
      operationId: 'deleteVm',
      tag: 'vms',
      summary: 'Delete a VM (starts the deleteVm workflow; a running delete is joined)',
      params: vmParams,
      responses: { 202: { description: 'the delete workflow started or joined', body: vmAcceptedSchema, headers: ['Location'] } },
      errors: { 400: 'invalid id', 404: NOT_FOUND, 409: 'vm_deleted, or vm_busy: the VM is being created or updated' },
    },
    async (req, res) => {
      const id = vmId(req);
      const op = await vms.delete(userId(req), id);
      res.status(202).location(`/api/v1/vms/${id}`).json(accepted(op));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/workflows/:id',
      operationId: 'getWorkflow',
      tag: 'workflows',
      summary: 'Status and progress of one of the caller’s workflows',
      params: workflowIdParams,
      responses: { 200: { description: 'the workflow’s status', body: operationStatusSchema } },
      errors: { 400: 'invalid id', 404: 'no such workflow, or another member’s' },
    },
    async (req, res) => {
      const id = parseInput(workflowIdParams.shape.id, req.params.id, 'workflow id');
      res.json(await vms.workflowFor(userId(req), id));
    },
  );
}
