/**
 * Cloud accounts a member registers (api/routes/cloud-accounts.ts). Answers never carry a secret,
 * only which secrets are stored. Pure zod, no I/O.
 */
import { z } from 'zod';
import type { CloudStackAccountSettings, OpenStackAccountSettings } from '../../cloud-accounts/types';
import { assertSameType, dateTime, nextCursorField, pageQueryFields } from './common';

const CLOUDS = ['openstack', 'cloudstack'] as const;
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' });
const text = (max: number) => z.string().trim().min(1, 'is required').max(max, `must be at most ${max} characters`);
const secret = z.string().min(1, 'is required').max(4096, 'is too long');

export const createCloudAccountSchema = z
  .discriminatedUnion(
    'kind',
    [
      z.object({
        kind: z.literal('openstack'),
        name: text(64),
        authUrl: httpUrl,
        region: text(64).optional(),
        projectName: text(64),
        projectDomainName: text(64).default('Default'),
        username: text(255),
        userDomainName: text(64).default('Default'),
        password: secret,
      }),
      z.object({
        kind: z.literal('cloudstack'),
        name: text(64),
        apiUrl: httpUrl,
        apiKey: secret,
        secretKey: secret,
        zoneName: text(255).optional(),
      }),
    ],
    { error: 'kind must be "openstack" or "cloudstack"' },
  )
  .meta({ id: 'CreateCloudAccountRequest' });
export type CreateCloudAccountInput = z.output<typeof createCloudAccountSchema>;

export const cloudAccountParams = z.object({ id: z.string().min(1).max(128).meta({ description: 'The cloud account id.' }) });

export const openStackAccountSettingsSchema = z.strictObject({
  authUrl: z.string(),
  region: z.string().optional(),
  projectName: z.string(),
  projectDomainName: z.string(),
  username: z.string(),
  userDomainName: z.string(),
});
export const cloudStackAccountSettingsSchema = z.strictObject({ apiUrl: z.string(), zoneName: z.string().optional() });
assertSameType<z.infer<typeof openStackAccountSettingsSchema>, OpenStackAccountSettings>();
assertSameType<z.infer<typeof cloudStackAccountSettingsSchema>, CloudStackAccountSettings>();

export const cloudAccountSchema = z
  .strictObject({
    id: z.string(),
    kind: z.enum(CLOUDS),
    name: z.string(),
    scope: z.enum(['operator', 'own']).meta({ description: '`operator`: configured by the operator, usable by every member; `own`: registered by the caller.' }),
    openstack: openStackAccountSettingsSchema.optional(),
    cloudstack: cloudStackAccountSettingsSchema.optional(),
    secrets: z.array(z.string()).meta({ description: 'Names of the stored secrets (never their values), e.g. ["password"] or ["apiKey", "secretKey"].' }),
    createdAt: dateTime(),
    updatedAt: dateTime(),
  })
  .meta({ id: 'CloudAccount' });
/** What the API shows of an account: never a secret, only which secrets are stored. */
export type CloudAccountView = z.infer<typeof cloudAccountSchema>;

export const cloudAccountListSchema = z
  .strictObject({ items: z.array(cloudAccountSchema).meta({ description: 'The operator accounts first (first page only; id, kind and name), then a page of the caller’s own.' }), ...nextCursorField })
  .meta({ id: 'CloudAccountList' });

export const cloudAccountListQuery = z.strictObject({ ...pageQueryFields });

export const VERIFY_FAILURE_REASONS = ['credentials_rejected', 'unreachable', 'invalid_settings', 'endpoint_not_found', 'zone_not_found', 'cloud_error'] as const;
export type VerifyFailureReason = (typeof VERIFY_FAILURE_REASONS)[number];

const named = z.strictObject({ id: z.string(), name: z.string().optional() });
export const verifyResultSchema = z
  .discriminatedUnion('ok', [
    z.strictObject({
      ok: z.literal(true),
      kind: z.enum(CLOUDS),
      checkedAt: dateTime(),
      openstack: z
        .strictObject({ project: named.optional(), user: named.optional(), services: z.array(z.string()).meta({ description: 'Service types in the Keystone catalog.' }) })
        .optional(),
      cloudstack: z.strictObject({ zones: z.array(z.string()) }).optional(),
    }),
    z.strictObject({
      ok: z.literal(false),
      kind: z.enum(CLOUDS),
      checkedAt: dateTime(),
      reason: z.enum(VERIFY_FAILURE_REASONS),
      message: z.string(),
      status: z.number().int().optional().meta({ description: 'The cloud’s HTTP status, when it answered.' }),
    }),
  ])
  .meta({ id: 'VerifyResult' });
export type VerifyResult = z.infer<typeof verifyResultSchema>;
