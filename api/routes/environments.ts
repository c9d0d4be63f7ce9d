/**
 * /api/v1/environments — thin routes over EnvironmentService. Every route is behind the session
 * gate; every lookup is scoped to the session's member (another's environment answers 404).
 */
import {
  createEnvironmentRequestSchema,
  destroyEnvironmentQuery,
  environmentAcceptedSchema,
  environmentListSchema,
  environmentParams,
  environmentViewSchema,
  listEnvironmentsQuery,
  type EnvironmentAccepted,
} from '../../src/contracts/api/environments';
import { idempotencyKeyHeader } from '../../src/contracts/api/vms';
import { parseInput } from '../../src/errors';
import type { EnvironmentService, StartedEnvironmentOperation } from '../../src/environments/service';
import type { ApiScope } from '../openapi';
import { idempotencyKeyOf } from './idempotency';
import { userId } from './params';

function accepted(op: StartedEnvironmentOperation): EnvironmentAccepted {
  return {
    environment: op.environment,
    operation: { workflowId: op.workflowId, started: op.started, status: `/api/v1/workflows/${encodeURIComponent(op.workflowId)}` },
  };
}

const NOT_FOUND = 'no such environment, or another member’s';

export function environmentRoutes(api: ApiScope, environments: EnvironmentService): void {
  api.route(
    {
      method: 'post',
      path: '/environments',
      operationId: 'createEnvironment',
      tag: 'environments',
      summary: 'Create an environment: its network, then its members as a graph (starts the createEnvironment workflow)',
      headers: idempotencyKeyHeader,
      body: createEnvironmentRequestSchema,
      responses: { 202: { description: 'the environment record and its create workflow', body: environmentAcceptedSchema, headers: ['Location'] } },
      errors: {
        400: 'validation_failed: fields name every problem — members[2].requires[0] naming an unknown member, a dependency cycle, a duplicate member name, a member’s bad requirement (members[1].software[0]), a preset’s size or os, accountId, the Idempotency-Key header',
        409: 'idempotency_key_reused: the key was used for a different request; quota_exceeded or cloud_quota_exceeded: a member does not fit (no member is created then)',
        503: 'busy: too many creates at once in this API process (the same gate as POST /vms); Retry-After says when to try again',
      },
    },
    async (req, res) => {
      const body = parseInput(createEnvironmentRequestSchema, req.body ?? undefined);
      const op = await environments.create(userId(req), body, idempotencyKeyOf(req));
      res.status(202).location(`/api/v1/environments/${op.environment.id}`).json(accepted(op));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/environments',
      operationId: 'listEnvironments',
      tag: 'environments',
      summary: 'The caller’s environments (destroyed ones left out)',
      query: listEnvironmentsQuery,
      responses: { 200: { description: 'the environments', body: environmentListSchema } },
      errors: { 400: 'validation_failed: a bad limit or cursor' },
    },
    async (req, res) => {
      const query = parseInput(listEnvironmentsQuery, { ...req.query }, 'query');
      res.json(await environments.list(userId(req), { limit: query.limit, cursor: query.cursor }));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/environments/:id',
      operationId: 'getEnvironment',
      tag: 'environments',
      summary: 'One environment: its members with their VMs’ states, its network and its graph’s task states',
      params: environmentParams,
      responses: { 200: { description: 'the environment', body: environmentViewSchema } },
      errors: { 400: 'invalid id', 404: NOT_FOUND },
    },
    async (req, res) => {
      const { id } = parseInput(environmentParams, req.params, 'path');
      res.json(await environments.get(userId(req), id));
    },
  );

  api.route(
    {
      method: 'post',
      path: '/environments/:id/retry',
      operationId: 'retryEnvironment',
      tag: 'environments',
      summary: 'Create a partial environment’s failed members again (created with onMemberFailure "keep"); the members that run stay as they are',
      params: environmentParams,
      responses: { 202: { description: 'the retry started', body: environmentAcceptedSchema, headers: ['Location'] } },
      errors: {
        400: 'invalid id',
        404: NOT_FOUND,
        409: 'environment_not_partial: only a partial environment is retried; environment_busy: being created, retried or destroyed; environment_member_deleted: a member was deleted on its own',
      },
    },
    async (req, res) => {
      const { id } = parseInput(environmentParams, req.params, 'path');
      const op = await environments.retry(userId(req), id);
      res.status(202).location(`/api/v1/environments/${id}`).json(accepted(op));
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/environments/:id',
      operationId: 'destroyEnvironment',
      tag: 'environments',
      summary: 'Destroy an environment: a final backup of members with a policy, members in reverse dependency order, then its network (starts the destroyEnvironment workflow; a running destroy is joined)',
      params: environmentParams,
      query: destroyEnvironmentQuery,
      responses: { 202: { description: 'the destroy workflow started or joined', body: environmentAcceptedSchema, headers: ['Location'] } },
      errors: { 400: 'invalid id', 404: NOT_FOUND, 409: 'environment_busy: it is being created; environment_destroyed: already destroyed' },
    },
    async (req, res) => {
      const { id } = parseInput(environmentParams, req.params, 'path');
      const { finalBackup } = parseInput(destroyEnvironmentQuery, { ...req.query }, 'query');
      // The destroy graph ends the recovery plan once the final backup is taken (nothing is deleted before).
      const op = await environments.destroy(userId(req), id, { finalBackup: finalBackup !== 'false' });
      res.status(202).location(`/api/v1/environments/${id}`).json(accepted(op));
    },
  );
}
