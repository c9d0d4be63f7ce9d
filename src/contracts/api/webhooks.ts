/**
 * A member's own webhook endpoints and their delivery log (api/routes/webhooks.ts). The signing
 * secret is answered once, when the endpoint is created. Pure zod, no I/O.
 */
import { z } from 'zod';
import { dateTime, nextCursorField, pageQueryFields } from './common';

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;

export const createWebhookSchema = z
  .strictObject({
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048, 'must be at most 2048 characters'),
    description: z.string().trim().max(200, 'must be at most 200 characters').optional(),
  })
  .meta({ id: 'CreateWebhookRequest' });
export type CreateWebhookInput = z.infer<typeof createWebhookSchema>;

export const webhookSchema = z
  .strictObject({
    id: z.string(),
    url: z.string(),
    description: z.string().optional(),
    createdAt: dateTime(),
  })
  .meta({ id: 'Webhook' });
export type WebhookView = z.infer<typeof webhookSchema>;

export const createdWebhookSchema = webhookSchema
  .extend({
    secret: z.string().meta({ description: 'The Standard Webhooks signing secret (`whsec_…`), answered only now: verify `webhook-signature` over `webhook-id.webhook-timestamp.body` with it.' }),
  })
  .meta({ id: 'CreatedWebhook' });

export const webhookListSchema = z.strictObject({ items: z.array(webhookSchema), ...nextCursorField }).meta({ id: 'WebhookList' });
export const webhookListQuery = z.strictObject({ ...pageQueryFields });

export const webhookParams = z.object({ id: z.string().min(1).max(64) });

export const webhookDeliverySchema = z
  .strictObject({
    id: z.string(),
    eventId: z.string().meta({ description: 'Also the `webhook-id` header of every attempt' }),
    eventKind: z.string(),
    status: z.enum(WEBHOOK_DELIVERY_STATUSES),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().optional(),
    lastError: z.string().optional().meta({ description: 'What went wrong on the last attempt (never the receiver\'s body)' }),
    createdAt: dateTime(),
    updatedAt: dateTime(),
    deliveredAt: dateTime().optional(),
  })
  .meta({ id: 'WebhookDelivery' });
export type WebhookDeliveryView = z.infer<typeof webhookDeliverySchema>;

export const webhookDeliveryListSchema = z.strictObject({ items: z.array(webhookDeliverySchema), ...nextCursorField }).meta({ id: 'WebhookDeliveryList' });
