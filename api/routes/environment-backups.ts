/**
 * Group protection under /api/v1/environments/:id (issue 15, item 3): the environment's backup
 * policy and schedule, a group backup run by hand, and the group restore points. Thin: the
 * EnvironmentBackupService does the work and the owner scoping.
 */
import {
  environmentBackupAcceptedSchema,
  environmentBackupListQuery,
  environmentBackupListSchema,
  environmentBackupPolicyRequestSchema,
  environmentBackupPolicyViewSchema,
} from '../../src/contracts/api/environment-backups';
import { environmentParams } from '../../src/contracts/api/environments';
import { idempotencyKeyHeader } from '../../src/contracts/api/vms';
import { parseInput } from '../../src/errors';
import type { EnvironmentBackupService } from '../../src/environments/backup-service';
import type { ApiScope } from '../openapi';
import { idempotencyKeyOf } from './idempotency';
import { userId } from './params';

const NOT_FOUND = 'no such environment, or another member’s';

export function environmentBackupRoutes(api: ApiScope, groups: EnvironmentBackupService): void {
  const policy = { 200: { description: 'the group policy and its schedule', body: environmentBackupPolicyViewSchema } };
  const envId = (params: unknown) => parseInput(environmentParams, params, 'path').id;

  api.route(
    {
      method: 'get',
      path: '/environments/:id/backup-policy',
      operationId: 'getEnvironmentBackupPolicy',
      tag: 'environments',
      summary: 'The environment’s group backup policy and its schedule',
      params: environmentParams,
      responses: policy,
      errors: { 400: 'invalid id', 404: 'no such environment, or no group policy' },
    },
    async (req, res) => {
      res.json(await groups.getPolicy(userId(req), envId(req.params)));
    },
  );
  api.route(
    {
      method: 'put',
      path: '/environments/:id/backup-policy',
      operationId: 'setEnvironmentBackupPolicy',
      tag: 'environments',
      summary: 'Set the group backup policy (creates or updates the `env-backup:<id>` schedule; the members’ own schedules and policies are replaced by it)',
      params: environmentParams,
      body: environmentBackupPolicyRequestSchema,
      responses: policy,
      errors: { 400: 'validation_failed: names the bad field (intervalSeconds, cron, retention, targets, backupAccountId, windowSeconds)', 404: NOT_FOUND, 409: 'not_backupable: a CloudStack environment; environment_destroyed' },
    },
    async (req, res) => {
      res.json(await groups.setPolicy(userId(req), envId(req.params), req.body));
    },
  );
  api.route(
    {
      method: 'delete',
      path: '/environments/:id/backup-policy',
      operationId: 'removeEnvironmentBackupPolicy',
      tag: 'environments',
      summary: 'Remove the group backup policy and its schedule (the group restore points and the members’ backups stay)',
      params: environmentParams,
      responses: { 204: { description: 'removed' } },
      errors: { 400: 'invalid id', 404: 'no such environment, or no group policy' },
    },
    async (req, res) => {
      await groups.removePolicy(userId(req), envId(req.params));
      res.status(204).end();
    },
  );

  api.route(
    {
      method: 'post',
      path: '/environments/:id/backups',
      operationId: 'runEnvironmentBackup',
      tag: 'environments',
      summary: 'Back every member up now as one group restore point (starts the backupEnvironment workflow)',
      params: environmentParams,
      headers: idempotencyKeyHeader,
      responses: { 202: { description: 'the group run started (or joined, for a repeated Idempotency-Key)', body: environmentBackupAcceptedSchema, headers: ['Location'] } },
      errors: { 400: 'invalid id or Idempotency-Key', 404: NOT_FOUND, 409: 'environment_busy: it is not active (being created, or failed); environment_destroyed; not_backupable: a CloudStack environment' },
    },
    async (req, res) => {
      const id = envId(req.params);
      const started = await groups.runNow(userId(req), id, idempotencyKeyOf(req));
      res.status(202).location(`/api/v1/environments/${id}/backups`).json(started);
    },
  );
  api.route(
    {
      method: 'get',
      path: '/environments/:id/backups',
      operationId: 'listEnvironmentBackups',
      tag: 'environments',
      summary: 'The environment’s group restore points, newest first: each member’s backup id and outcome (paginated: limit, cursor)',
      params: environmentParams,
      query: environmentBackupListQuery,
      responses: { 200: { description: 'the group restore points', body: environmentBackupListSchema } },
      errors: { 400: 'invalid id, limit or cursor', 404: NOT_FOUND },
    },
    async (req, res) => {
      res.json(await groups.list(userId(req), envId(req.params), parseInput(environmentBackupListQuery, { ...req.query }, 'query')));
    },
  );
}
