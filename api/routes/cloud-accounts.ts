/**
 * /api/v1/cloud-accounts: a member's own cloud accounts plus the operator's. Answers never carry a
 * secret (CloudAccountView lists only which secrets are stored); another member's account is 404.
 */
import type { CloudAccountResolver } from '../../src/cloud-accounts/resolver';
import { toView, type CloudAccountStore } from '../../src/cloud-accounts/store';
import { assertAccountUrlAllowed, verifyCloudAccount } from '../../src/cloud-accounts/verify';
import { cloudAccountListQuery, cloudAccountListSchema, cloudAccountParams, cloudAccountSchema, createCloudAccountSchema, verifyResultSchema } from '../../src/contracts/api/cloud-accounts';
import { AppError, parseInput } from '../../src/errors';
import { quotaExceeded } from '../../src/limits/quotas';
import { takeAll, type Throttle } from '../../src/limits/throttle';
import { currentUser } from '../auth-middleware';
import type { ApiScope } from '../openapi';

const NOT_FOUND = 'no such account, or another member’s';

export interface CloudAccountLimits {
  /** Accounts one member may register (QUOTA_CLOUD_ACCOUNTS). */
  maxPerMember?: number;
  /** Verify calls per member and per account (VERIFY_RATE_LIMIT_*); unset: not throttled. */
  verify?: { perMember: Throttle; perAccount: Throttle };
}

export function cloudAccountsRoutes(api: ApiScope, store: CloudAccountStore, resolver: CloudAccountResolver, limits: CloudAccountLimits = {}): void {
  api.route(
    {
      method: 'post',
      path: '/',
      operationId: 'createCloudAccount',
      tag: 'cloud-accounts',
      summary: 'Register a cloud account (secrets are stored encrypted, never answered)',
      body: createCloudAccountSchema,
      responses: { 201: { description: 'registered', body: cloudAccountSchema, headers: ['Location'] } },
      errors: {
        400: 'validation_failed, or url_not_allowed: authUrl / apiUrl leads to a loopback, private, link-local or otherwise non-public address (fields name which)',
        409: 'quota_exceeded: the member has as many cloud accounts as allowed (QUOTA_CLOUD_ACCOUNTS; `quota` and `limit` in the body)',
      },
    },
    async (req, res) => {
      const input = parseInput(createCloudAccountSchema, req.body);
      await assertAccountUrlAllowed(resolver.outbound, input);
      const max = limits.maxPerMember;
      if (max !== undefined) {
        const have = await store.countOwn(currentUser(req).id);
        if (have >= max) throw quotaExceeded('cloudAccounts', max, `you have ${have} cloud accounts; delete one before registering another`);
      }
      const view = await store.createForMember(currentUser(req).id, input);
      req.log.info({ accountId: view.id, kind: view.kind }, 'cloud account registered');
      res.status(201).location(`${req.baseUrl}/${encodeURIComponent(view.id)}`).json(view);
    },
  );

  api.route(
    {
      method: 'get',
      path: '/',
      operationId: 'listCloudAccounts',
      tag: 'cloud-accounts',
      summary: 'The operator’s and the caller’s cloud accounts (paginated: limit, cursor)',
      query: cloudAccountListQuery,
      responses: { 200: { description: 'the accounts the caller may use', body: cloudAccountListSchema } },
      errors: { 400: 'validation_failed: limit or cursor (fields name which)' },
    },
    async (req, res) => {
      const page = parseInput(cloudAccountListQuery, { ...req.query }, 'query');
      res.json(await store.listVisibleTo(currentUser(req).id, page));
    },
  );

  api.route(
    {
      method: 'get',
      path: '/:id',
      operationId: 'getCloudAccount',
      tag: 'cloud-accounts',
      summary: 'One cloud account',
      params: cloudAccountParams,
      responses: { 200: { description: 'the account', body: cloudAccountSchema } },
      errors: { 400: 'invalid id', 404: NOT_FOUND },
    },
    async (req, res) => {
      const { id } = parseInput(cloudAccountParams, req.params, 'path');
      const doc = await store.findVisible(id, currentUser(req).id);
      if (!doc) throw AppError.notFound('cloud account');
      res.json(toView(doc));
    },
  );

  api.route(
    {
      method: 'delete',
      path: '/:id',
      operationId: 'deleteCloudAccount',
      tag: 'cloud-accounts',
      summary: 'Delete one of the caller’s cloud accounts',
      params: cloudAccountParams,
      responses: { 204: { description: 'deleted' } },
      errors: { 400: 'invalid id', 403: 'forbidden: operator accounts are managed through the configuration', 404: NOT_FOUND },
    },
    async (req, res) => {
      const { id } = parseInput(cloudAccountParams, req.params, 'path');
      const outcome = await store.deleteOwn(id, currentUser(req).id);
      if (outcome === 'not-found') throw AppError.notFound('cloud account');
      if (outcome === 'operator') throw AppError.forbidden('operator cloud accounts are managed through the configuration, not the API');
      req.log.info({ accountId: id }, 'cloud account deleted');
      res.status(204).end();
    },
  );

  api.route(
    {
      method: 'post',
      path: '/:id/verify',
      operationId: 'verifyCloudAccount',
      tag: 'cloud-accounts',
      summary: 'Check the credentials of one of your cloud accounts against the cloud',
      params: cloudAccountParams,
      responses: { 200: { description: 'what the cloud said (`ok: false` with a reason when it refused)', body: verifyResultSchema } },
      errors: {
        400: 'invalid id, or url_not_allowed: the account’s URL leads to a non-public address; nothing was sent (fields name which)',
        403: 'forbidden: an operator account (the operator checks those)',
        404: NOT_FOUND,
        429: 'too_many_requests: too many verify calls by this member or for this account (Retry-After)',
      },
    },
    async (req, res) => {
      const { id } = parseInput(cloudAccountParams, req.params, 'path');
      const member = currentUser(req).id;
      const doc = await store.findVisible(id, member);
      if (!doc) throw AppError.notFound('cloud account');
      if (doc.scope === 'operator') throw AppError.forbidden('operator accounts are verified by the operator, not through the API');
      if (limits.verify) {
        // Each verify makes the API call a cloud: bounded per member and per account (not given back).
        const taken = await takeAll([
          [limits.verify.perMember, member],
          [limits.verify.perAccount, id],
        ]);
        if (!taken.allowed) throw AppError.tooManyRequests(`too many verify calls${taken.limitedBy.includes('verify-account') ? ' for this account' : ''}; try again in ${taken.retryAfterSeconds} s`, taken.retryAfterSeconds);
      }
      const result = await verifyCloudAccount(resolver, id, doc.kind);
      req.log.info({ accountId: id, ok: result.ok, ...(result.ok ? {} : { reason: result.reason }) }, 'cloud account verified');
      res.json(result);
    },
  );
}
