/**
 * Members' webhook endpoints (with their signing secret encrypted at rest) and the delivery log:
 * one record per (event, endpoint), updated by the delivering activity after each attempt.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type { EncryptedSecret } from '../secrets/aead';

export interface WebhookEndpointRecord {
  _id: string;
  ownerId: string;
  url: string;
  description?: string;
  /** The `whsec_…` secret, AES-GCM under the keyring (aad: webhookSecretAad(id)). */
  secret: EncryptedSecret;
  createdAt: Date;
}

export const webhookSecretAad = (endpointId: string) => `webhook-endpoint:${endpointId}:secret`;

const endpointSchema = new Schema<WebhookEndpointRecord>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true, index: true },
    url: { type: String, required: true },
    description: String,
    secret: { type: Schema.Types.Mixed, required: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export function webhookEndpointModel(conn: Connection): Model<WebhookEndpointRecord> {
  return (conn.models.WebhookEndpoint as Model<WebhookEndpointRecord>) ?? conn.model<WebhookEndpointRecord>('WebhookEndpoint', endpointSchema, 'webhook_endpoints');
}

export interface WebhookDeliveryRecord {
  /** `<eventId>:<endpointId>` */
  _id: string;
  ownerId: string;
  endpointId: string;
  eventId: string;
  eventKind: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastStatusCode?: number;
  lastError?: string;
  createdAt: Date;
  updatedAt: Date;
  deliveredAt?: Date;
}

export const webhookDeliveryId = (eventId: string, endpointId: string) => `${eventId}:${endpointId}`;

const deliverySchema = new Schema<WebhookDeliveryRecord>(
  {
    _id: { type: String, required: true },
    ownerId: { type: String, required: true, index: true },
    endpointId: { type: String, required: true, index: true },
    eventId: { type: String, required: true },
    eventKind: { type: String, required: true },
    status: { type: String, required: true },
    attempts: { type: Number, required: true },
    lastStatusCode: Number,
    lastError: String,
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    deliveredAt: Date,
  },
  { versionKey: false },
);

export function webhookDeliveryModel(conn: Connection): Model<WebhookDeliveryRecord> {
  return (conn.models.WebhookDelivery as Model<WebhookDeliveryRecord>) ?? conn.model<WebhookDeliveryRecord>('WebhookDelivery', deliverySchema, 'webhook_deliveries');
}
