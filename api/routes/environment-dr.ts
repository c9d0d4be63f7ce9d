/**
 * /api/v1/environments/:id/dr and /drills — an environment's recovery plan, thin over
 * EnvironmentDrService. Behind the session gate; another member's environment answers 404.
 */
import {
  environmentDrRequestSchema,
  environmentDrViewSchema,
  environmentDrillAcceptedSchema,
  environmentDrillRequestSchema,
} from '../../src/contracts/api/environment-dr';
import { environmentParams } from '../../src/contracts/api/environments';
import { z } from 'zod';
import { parseInput } from '../../src/errors';
import type { EnvironmentDrService } from '../../src/environments/dr-service';
import type { ApiScope } from '../openapi';
import { userId } from './params';

const NOT_FOUND = 'no such environment, or another member’s';
const unprotectedSchema = z.strictObject({ envId: z.string(), protected: z.literal(false) }).meta({ id: 'EnvironmentDrUnprotected' });

export function environmentDrRoutes(api: ApiScope, plans: EnvironmentDrService): void {
  api.route(
    {
      method: 'get',
      path: '/environments/:id/dr',
      operationId: 'getEnvironmentDr',
      tag: 'environments',
      summary: 'The environment’s recovery plan: its waves, its state, each member’s DR state, and the last failover, failback and drill with per-member start times',
      params: environmentParams,
      responses: { 200: { description: 'the plan', body: environmentDrViewSchema } },
      errors: { 400: 'invalid id', 404: NOT_FOUND },
    },
    async (req, res) => {
      const { id } = parseInput(environmentParams, req.params, 'path');
      res.json(await plans.status(userId(req), id));
    },
  );

  api.route(
    {
      method: 'post',
      path: '/environments/:id/dr',
      operationId: 'protectEnvironment',
      tag: 'environments',
      summary: 'Protect the environment as a whole: every member by its DR workflow (failback by approval) and one plan failing them over and back in dependency order (again: new settings)',
      params: environmentParams,
      body: environmentDrRequestSchema,
      bodyOptional: true,
      responses: { 200: { description: 'the plan', body: environmentDrViewSchema } },
      errors: {
        400: 'validation_failed: names the bad field (waitSeconds, healthChecks.<member> naming no member or a bad check)',
        404: NOT_FOUND,
        409: 'not_protectable: a CloudStack environment; environment_not_active: it is being created, destroyed, partial or failed',
      },
    },
    async (req, res) => {
      const { id } = parseInput(environmentParams, req.params, 'path');
      res.json(await plans.protect(userId(req), id, req.body));
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/environments/:id/dr',
      operationId: 'unprotectEnvironment',
      tag: 'environments',
      summary: 'Stop the plan and the members’ protection',
      params: environmentParams,
      responses: { 200: { description: 'no longer protected', body: unprotectedSchema } },
      errors: { 400: 'invalid id', 404: NOT_FOUND },
    },
    async (req, res) => {
      const { id } = parseInput(environmentParams, req.params, 'path');
      res.json(await plans.unprotect(userId(req), id));
    },
  );

  api.route(
    {
      method: 'post',
      path: '/environments/:id/drills',
      operationId: 'drillEnvironment',
      tag: 'environments',
      summary: 'Drill the whole environment: every member’s copy booted in the backup cloud in dependency order on a network of the drill’s own, then all torn down (GET …/dr shows the report as lastDrill)',
      params: environmentParams,
      body: environmentDrillRequestSchema,
      bodyOptional: true,
      responses: { 202: { description: 'the drill workflow started', body: environmentDrillAcceptedSchema, headers: ['Location'] } },
      errors: { 400: 'validation_failed: waitSeconds', 404: NOT_FOUND, 409: 'drill_running: a drill of this environment runs; environment_not_active' },
    },
    async (req, res) => {
      const { id } = parseInput(environmentParams, req.params, 'path');
      const started = await plans.drill(userId(req), id, req.body);
      res
        .status(202)
        .location(`/api/v1/environments/${id}/dr`)
        .json({ ...started, status: `/api/v1/workflows/${encodeURIComponent(started.workflowId)}` });
    },
  );
}
