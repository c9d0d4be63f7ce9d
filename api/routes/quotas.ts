/**
 * GET /api/v1/quotas — what the clouds still allow before a create (src/vms/cloud-quota.ts): the
 * operator account of each cloud, or one account the member may use.
 */
import { quotaListSchema, quotasQuery } from '../../src/contracts/api/quotas';
import { OPERATOR_ACCOUNT_IDS, type CloudKind } from '../../src/cloud-accounts/types';
import { AppError, parseInput } from '../../src/errors';
import type { CloudQuotas } from '../../src/vms/cloud-quota';
import type { ApiScope } from '../openapi';
import { userId } from './params';

export function quotaRoutes(api: ApiScope, quotas: CloudQuotas, findAccount: (accountId: string, userId: string) => Promise<{ id: string; kind: CloudKind } | undefined>): void {
  api.route(
    {
      method: 'get',
      path: '/quotas',
      operationId: 'listCloudQuotas',
      tag: 'catalog',
      summary: 'The clouds’ remaining quota: instances, cores and RAM in use and allowed',
      query: quotasQuery,
      responses: { 200: { description: 'one entry per cloud account (an account whose cloud did not answer says so)', body: quotaListSchema } },
      errors: { 400: 'validation_failed: a bad accountId', 404: 'no such cloud account, or another member’s' },
    },
    async (req, res) => {
      const query = parseInput(quotasQuery, { ...req.query }, 'query');
      if (query.accountId) {
        const account = await findAccount(query.accountId, userId(req));
        if (!account) throw AppError.notFound('cloud account');
        res.json({ clouds: [await quotas.read(account.kind, account.id)] });
        return;
      }
      const clouds = await Promise.all((['openstack', 'cloudstack'] as const).map((cloud) => quotas.read(cloud, OPERATOR_ACCOUNT_IDS[cloud])));
      res.json({ clouds });
    },
  );
}
