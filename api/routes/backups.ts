/**
 * Backup routes under /api/v1/vms/:id — the policy and its schedule, backups run by hand, the list
 * of backups, and restore. Thin: BackupService does the work and the owner scoping.
 */
import type { BackupService } from '../../src/backups/service';
import { backupListQuery, backupListSchema, backupPolicyPatchSchema, backupPolicyViewSchema, restoreRequestSchema } from '../../src/contracts/api/backups';
import { workflowAcceptedSchema } from '../../src/contracts/api/common';
import { idempotencyKeyHeader, vmParams } from '../../src/contracts/api/vms';
import { parseInput } from '../../src/errors';
import type { ApiScope } from '../openapi';
import { idempotencyKeyOf } from './idempotency';
import { userId, vmId } from './params';

const NOT_FOUND = 'no such VM, or another member’s';
const statusPath = (workflowId: string) => `/api/v1/workflows/${encodeURIComponent(workflowId)}`;

export function backupRoutes(api: ApiScope, backups: BackupService): void {
  const policy = { 200: { description: 'the policy', body: backupPolicyViewSchema } };

  api.route(
    {
      method: 'get',
      path: '/vms/:id/backup-policy',
      operationId: 'getBackupPolicy',
      tag: 'backups',
      summary: 'The VM’s backup policy and its schedule',
      params: vmParams,
      responses: policy,
      errors: { 400: 'invalid id', 404: 'no such VM or no policy' },
    },
    async (req, res) => {
      res.json(await backups.getPolicy(userId(req), vmId(req)));
    },
  );
  api.route(
    {
      method: 'put',
      path: '/vms/:id/backup-policy',
      operationId: 'setBackupPolicy',
      tag: 'backups',
      summary: 'Set the backup policy (creates or updates the VM’s Temporal Schedule)',
      params: vmParams,
      body: backups.policySchema,
      responses: policy,
      errors: { 400: 'validation_failed: names the bad field', 404: NOT_FOUND, 409: 'not_backupable: the VM runs in CloudStack; vm_deleted; environment_backup_policy: a member of an environment with a group policy (change that one)' },
    },
    async (req, res) => {
      res.json(await backups.setPolicy(userId(req), vmId(req), req.body));
    },
  );
  api.route(
    {
      method: 'patch',
      path: '/vms/:id/backup-policy',
      operationId: 'patchBackupPolicy',
      tag: 'backups',
      summary: 'Change some fields of the backup policy',
      params: vmParams,
      body: backupPolicyPatchSchema,
      responses: policy,
      errors: { 400: 'validation_failed: names the bad field', 404: NOT_FOUND, 409: 'not_backupable; vm_deleted; environment_backup_policy: a member of an environment with a group policy' },
    },
    async (req, res) => {
      res.json(await backups.patchPolicy(userId(req), vmId(req), req.body));
    },
  );
  for (const [action, paused] of [['pause', true], ['resume', false]] as const) {
    api.route(
      {
        method: 'post',
        path: `/vms/:id/backup-policy/${action}`,
        operationId: `${action}Backups`,
        tag: 'backups',
        summary: `${paused ? 'Pause' : 'Resume'} scheduled backups`,
        params: vmParams,
        responses: policy,
        errors: { 400: 'validation_failed: no policy yet', 404: NOT_FOUND, 409: 'not_backupable; vm_deleted' },
      },
      async (req, res) => {
        res.json(await backups.setPaused(userId(req), vmId(req), paused));
      },
    );
  }

  api.route(
    {
      method: 'post',
      path: '/vms/:id/backups',
      operationId: 'runBackup',
      tag: 'backups',
      summary: 'Back the VM up now (starts the backupVm workflow)',
      params: vmParams,
      responses: { 202: { description: 'the backup workflow started', body: workflowAcceptedSchema, headers: ['Location'] } },
      errors: { 400: 'invalid id', 404: NOT_FOUND, 409: 'not_backupable; vm_busy: the VM is not active; quota_exceeded: backupsInFlight or imageStoreBytes (QUOTA_BACKUPS_IN_FLIGHT, QUOTA_IMAGE_STORE_BYTES)' },
    },
    async (req, res) => {
      const started = await backups.runNow(userId(req), vmId(req));
      res
        .status(202)
        .location(`/api/v1/vms/${vmId(req)}/backups`)
        .json({ workflowId: started.workflowId, status: statusPath(started.workflowId) });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/vms/:id/backups',
      operationId: 'listBackups',
      tag: 'backups',
      summary: 'The VM’s backups with each task’s outcome, sizes and checksums (paginated: limit, cursor)',
      params: vmParams,
      query: backupListQuery,
      responses: { 200: { description: 'the backups', body: backupListSchema } },
      errors: { 400: 'invalid id, limit or cursor', 404: NOT_FOUND },
    },
    async (req, res) => {
      res.json(await backups.list(userId(req), vmId(req), parseInput(backupListQuery, { ...req.query }, 'query')));
    },
  );

  api.route(
    {
      method: 'post',
      path: '/vms/:id/restore',
      operationId: 'restoreVm',
      tag: 'backups',
      summary: 'Rebuild the VM in the base cloud from a backup (starts the restoreVm workflow)',
      params: vmParams,
      headers: idempotencyKeyHeader,
      body: restoreRequestSchema,
      bodyOptional: true,
      responses: { 202: { description: 'the restore workflow started or joined', body: workflowAcceptedSchema, headers: ['Location'] } },
      errors: { 400: 'validation_failed', 404: 'no such VM or backup', 409: 'no_backup, backup_unusable, not_backupable, vm_busy or vm_failed_over (runs on a DR standby until failback)' },
    },
    async (req, res) => {
      const started = await backups.restore(userId(req), vmId(req), req.body, idempotencyKeyOf(req));
      res
        .status(202)
        .location(`/api/v1/vms/${vmId(req)}`)
        .json({ workflowId: started.workflowId, started: started.started, status: statusPath(started.workflowId) });
    },
  );
}
