/**
 * Disaster-recovery routes: /api/v1/vms/:id/dr (protection, state, failover, failback, approve,
 * drills) and /api/v1/events. Thin: DrService does the work and the owner scoping.
 */
import {
  drAcceptedSchema,
  drillAcceptedSchema,
  drillListSchema,
  drillRequestSchema,
  drSettingsSchema,
  drUnprotectedSchema,
  drViewSchema,
  eventListSchema,
  eventsQuery,
  failoverRequestSchema,
  drillListQuery,
} from '../../src/contracts/api/dr';
import { vmParams } from '../../src/contracts/api/vms';
import type { DrService } from '../../src/dr/service';
import { parseInput } from '../../src/errors';
import type { ApiScope } from '../openapi';
import { userId, vmId } from './params';

const NOT_FOUND = 'no such VM, or another member’s';
const UNAVAILABLE = 'dr_unavailable: the DR workflow cannot take commands right now (Retry-After)';

export function drRoutes(api: ApiScope, dr: DrService): void {
  api.route(
    {
      method: 'get',
      path: '/vms/:id/dr',
      operationId: 'getDr',
      tag: 'dr',
      summary: 'DR state, settings, last RPO/RTO and recent events',
      params: vmParams,
      responses: { 200: { description: 'the DR view', body: drViewSchema } },
      errors: { 400: 'invalid id', 404: NOT_FOUND },
    },
    async (req, res) => {
      res.json(await dr.status(userId(req), vmId(req)));
    },
  );
  api.route(
    {
      method: 'put',
      path: '/vms/:id/dr',
      operationId: 'protectVm',
      tag: 'dr',
      summary: 'Protect the VM (starts its DR workflow and the monitor of its cloud) or change its settings',
      params: vmParams,
      body: drSettingsSchema,
      bodyOptional: true,
      responses: { 200: { description: 'the DR view', body: drViewSchema } },
      errors: { 400: 'validation_failed: names the bad field', 404: NOT_FOUND, 409: 'not_protectable: a CloudStack VM; vm_deleted' },
    },
    async (req, res) => {
      res.json(await dr.protect(userId(req), vmId(req), req.body));
    },
  );
  api.route(
    {
      method: 'delete',
      path: '/vms/:id/dr',
      operationId: 'unprotectVm',
      tag: 'dr',
      summary: 'Stop protecting the VM',
      params: vmParams,
      responses: { 200: { description: 'no longer protected', body: drUnprotectedSchema } },
      errors: { 400: 'invalid id', 404: NOT_FOUND },
    },
    async (req, res) => {
      res.json(await dr.unprotect(userId(req), vmId(req)));
    },
  );
  api.route(
    {
      method: 'post',
      path: '/vms/:id/dr/failover',
      operationId: 'failover',
      tag: 'dr',
      summary: 'Fail over now (a Temporal update; refused unless Protected or Degraded)',
      params: vmParams,
      body: failoverRequestSchema,
      bodyOptional: true,
      responses: { 202: { description: 'failover accepted; follow GET /vms/{id}/dr', body: drAcceptedSchema } },
      errors: { 400: 'validation_failed', 404: NOT_FOUND, 409: 'dr_refused: the state does not allow it; not_protected', 503: UNAVAILABLE },
    },
    async (req, res) => {
      res.status(202).json({ state: await dr.failover(userId(req), vmId(req), req.body) });
    },
  );
  api.route(
    {
      method: 'post',
      path: '/vms/:id/dr/failback',
      operationId: 'failback',
      tag: 'dr',
      summary: 'Fail back now (refused unless failed over to the backup cloud with the base cloud healthy)',
      params: vmParams,
      responses: { 202: { description: 'failback accepted', body: drAcceptedSchema } },
      errors: { 400: 'invalid id', 404: NOT_FOUND, 409: 'dr_refused; not_protected', 503: UNAVAILABLE },
    },
    async (req, res) => {
      res.status(202).json({ state: await dr.failback(userId(req), vmId(req)) });
    },
  );
  api.route(
    {
      method: 'post',
      path: '/vms/:id/dr/approve',
      operationId: 'approveFailback',
      tag: 'dr',
      summary: 'Approve a failback that waits for approval',
      params: vmParams,
      responses: { 202: { description: 'approved', body: drAcceptedSchema } },
      errors: { 400: 'invalid id', 404: NOT_FOUND, 409: 'dr_refused: nothing waits for approval; not_protected', 503: UNAVAILABLE },
    },
    async (req, res) => {
      res.status(202).json({ state: await dr.approve(userId(req), vmId(req)) });
    },
  );
  api.route(
    {
      method: 'post',
      path: '/vms/:id/dr/drill',
      operationId: 'runDrill',
      tag: 'dr',
      summary: 'Boot an isolated copy from the latest backup, time it and tear it down (starts the drDrill workflow)',
      params: vmParams,
      body: drillRequestSchema,
      bodyOptional: true,
      responses: { 202: { description: 'the drill started', body: drillAcceptedSchema, headers: ['Location'] } },
      errors: { 400: 'validation_failed', 404: NOT_FOUND, 409: 'quota_exceeded: as many of the member\'s drills run as allowed (QUOTA_DRILLS_IN_FLIGHT)' },
    },
    async (req, res) => {
      const started = await dr.drill(userId(req), vmId(req), req.body);
      res.status(202).location(`/api/v1/vms/${vmId(req)}/dr/drills`).json({ ...started, status: `/api/v1/workflows/${encodeURIComponent(started.workflowId)}` });
    },
  );
  api.route(
    {
      method: 'get',
      path: '/vms/:id/dr/drills',
      operationId: 'listDrills',
      tag: 'dr',
      summary: 'Drill reports, newest first (paginated: limit, cursor)',
      params: vmParams,
      query: drillListQuery,
      responses: { 200: { description: 'the reports', body: drillListSchema } },
      errors: { 400: 'invalid id, limit or cursor', 404: NOT_FOUND },
    },
    async (req, res) => {
      res.json(await dr.drills(userId(req), vmId(req), parseInput(drillListQuery, { ...req.query }, 'query')));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/events',
      operationId: 'listEvents',
      tag: 'dr',
      summary: 'The caller’s disaster, failover, failback and drill events',
      query: eventsQuery,
      responses: { 200: { description: 'the events', body: eventListSchema } },
      errors: { 400: 'validation_failed: a bad query parameter' },
    },
    async (req, res) => {
      const q = parseInput(eventsQuery, { ...req.query }, 'query');
      res.json(await dr.events(userId(req), q));
    },
  );
}
