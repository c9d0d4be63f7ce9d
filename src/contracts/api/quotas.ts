/**
 * The clouds' remaining quota (api/routes/quotas.ts, src/vms/cloud-quota.ts): per cloud account the
 * member can create with, the instances, cores and RAM in use and allowed. Pure zod, no I/O.
 */
import { z } from 'zod';

export const cloudUsageSchema = z
  .strictObject({
    used: z.number().int(),
    max: z.number().int().nullable().meta({ description: 'null: no limit.' }),
  })
  .meta({ id: 'CloudUsage' });
export type CloudUsage = z.infer<typeof cloudUsageSchema>;

const cloud = z.enum(['openstack', 'cloudstack']);

export const cloudQuotaSchema = z
  .union([
    z.strictObject({ cloud, accountId: z.string(), instances: cloudUsageSchema, cores: cloudUsageSchema, ramMiB: cloudUsageSchema }),
    z.strictObject({ cloud, accountId: z.string(), error: z.string().meta({ description: 'The cloud could not be asked now.' }) }),
  ])
  .meta({ id: 'CloudQuota', description: 'OpenStack: Nova absolute limits (GET /limits). CloudStack: listResourceLimits with the account’s counts (listAccounts).' });
export type CloudQuotaView = z.infer<typeof cloudQuotaSchema>;

export const quotasQuery = z.strictObject({
  accountId: z.string().min(1).max(100).optional().meta({ description: 'One of your cloud accounts (or an operator account); default: the operator account of each cloud.' }),
});

export const quotaListSchema = z.strictObject({ clouds: z.array(cloudQuotaSchema) }).meta({ id: 'CloudQuotaList' });
export type CloudQuotaList = z.infer<typeof quotaListSchema>;
