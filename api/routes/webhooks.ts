/**
 * /api/v1/webhooks: a member's own webhook endpoints for their DR events (Standard Webhooks
 * signatures with a secret answered once) and each endpoint's delivery log. Another member's
 * endpoint is 404.
 */
import { createdWebhookSchema, createWebhookSchema, webhookDeliveryListSchema, webhookListQuery, webhookListSchema, webhookParams, webhookSchema } from '../../src/contracts/api/webhooks';
import { parseInput } from '../../src/errors';
import type { WebhookService } from '../../src/webhooks/service';
import { currentUser } from '../auth-middleware';
import type { ApiScope } from '../openapi';

const NOT_FOUND = 'no such webhook, or another member’s';

export function webhookRoutes(api: ApiScope, webhooks: WebhookService): void {
  api.route(
    {
      method: 'post',
      path: '/',
      operationId: 'createWebhook',
      tag: 'webhooks',
      summary: 'Register a webhook endpoint for your DR events (the signing secret is answered only now)',
      body: createWebhookSchema,
      responses: { 201: { description: 'registered, with its secret', body: createdWebhookSchema, headers: ['Location'] } },
      errors: {
        400: 'validation_failed, or url_not_allowed: the URL leads to a loopback, private, link-local or otherwise non-public address (fields name url)',
        409: 'quota_exceeded: the member has as many webhooks as allowed',
      },
    },
    async (req, res) => {
      const input = parseInput(createWebhookSchema, req.body);
      const created = await webhooks.create(currentUser(req).id, input);
      req.log.info({ webhookId: created.id }, 'webhook registered');
      res.setHeader('Cache-Control', 'no-store');
      res.status(201).location(`${req.baseUrl}/${encodeURIComponent(created.id)}`).json(created);
    },
  );

  api.route(
    {
      method: 'get',
      path: '/',
      operationId: 'listWebhooks',
      tag: 'webhooks',
      summary: 'Your webhook endpoints (paginated: limit, cursor)',
      query: webhookListQuery,
      responses: { 200: { description: 'the endpoints (no secrets)', body: webhookListSchema } },
      errors: { 400: 'validation_failed: limit or cursor' },
    },
    async (req, res) => {
      res.json(await webhooks.list(currentUser(req).id, parseInput(webhookListQuery, { ...req.query }, 'query')));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/:id',
      operationId: 'getWebhook',
      tag: 'webhooks',
      summary: 'One of your webhook endpoints',
      params: webhookParams,
      responses: { 200: { description: 'the endpoint', body: webhookSchema } },
      errors: { 400: 'invalid id', 404: NOT_FOUND },
    },
    async (req, res) => {
      const { id } = parseInput(webhookParams, req.params, 'path');
      res.json(await webhooks.get(currentUser(req).id, id));
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/:id',
      operationId: 'deleteWebhook',
      tag: 'webhooks',
      summary: 'Delete one of your webhook endpoints (deliveries still retrying to it stop)',
      params: webhookParams,
      responses: { 204: { description: 'deleted' } },
      errors: { 400: 'invalid id', 404: NOT_FOUND },
    },
    async (req, res) => {
      const { id } = parseInput(webhookParams, req.params, 'path');
      await webhooks.delete(currentUser(req).id, id);
      res.status(204).end();
    },
  );

  api.route(
    {
      method: 'get',
      path: '/:id/deliveries',
      operationId: 'listWebhookDeliveries',
      tag: 'webhooks',
      summary: 'The delivery log of one of your endpoints, newest first (paginated: limit, cursor)',
      params: webhookParams,
      query: webhookListQuery,
      responses: { 200: { description: 'one record per event: status, attempts, last status code or error', body: webhookDeliveryListSchema } },
      errors: { 400: 'invalid id, limit or cursor', 404: NOT_FOUND },
    },
    async (req, res) => {
      const { id } = parseInput(webhookParams, req.params, 'path');
      res.json(await webhooks.deliveries(currentUser(req).id, id, parseInput(webhookListQuery, { ...req.query }, 'query')));
    },
  );
}
