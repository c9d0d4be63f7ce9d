/**
 * Members' webhook endpoints as the API sees them: register (the URL through the outbound guard,
 * a fresh Standard Webhooks secret stored encrypted and answered once), list, delete, and read an
 * endpoint's delivery log. Another member's endpoint is not found.
 */
import crypto from 'node:crypto';
import type { Connection } from 'mongoose';
import type { CreateWebhookInput, WebhookDeliveryView, WebhookView } from '../contracts/api/webhooks';
import { AppError } from '../errors';
import { outboundRefusal, type OutboundGuard } from '../outbound/guard';
import { pageOf, type PageRequest } from '../limits/pages';
import { quotaExceeded } from '../limits/quotas';
import { encryptSecret } from '../secrets/aead';
import type { Keyring } from '../secrets/keyring';
import { webhookDeliveryModel, webhookEndpointModel, webhookSecretAad, type WebhookDeliveryRecord, type WebhookEndpointRecord } from './model';

/** A Standard Webhooks secret: `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString('base64')}`;
}

function view(doc: WebhookEndpointRecord): WebhookView {
  return { id: doc._id, url: doc.url, ...(doc.description ? { description: doc.description } : {}), createdAt: new Date(doc.createdAt).toISOString() };
}

function deliveryView(d: WebhookDeliveryRecord): WebhookDeliveryView {
  return {
    id: d._id,
    eventId: d.eventId,
    eventKind: d.eventKind,
    status: d.status,
    attempts: d.attempts,
    ...(d.lastStatusCode !== undefined ? { lastStatusCode: d.lastStatusCode } : {}),
    ...(d.lastError ? { lastError: d.lastError } : {}),
    createdAt: new Date(d.createdAt).toISOString(),
    updatedAt: new Date(d.updatedAt).toISOString(),
    ...(d.deliveredAt ? { deliveredAt: new Date(d.deliveredAt).toISOString() } : {}),
  };
}

/** Most endpoints one member may register. */
export const MAX_WEBHOOKS_PER_MEMBER = 10;

export class WebhookService {
  constructor(private readonly o: { db: Connection; keyring: Keyring; outbound: OutboundGuard }) {}

  private get endpoints() {
    return webhookEndpointModel(this.o.db);
  }

  async create(ownerId: string, input: CreateWebhookInput): Promise<WebhookView & { secret: string }> {
    try {
      await this.o.outbound.checkUrlResolved(input.url);
    } catch (err) {
      const refused = outboundRefusal(err);
      if (!refused) throw err;
      const message = `url is not allowed: ${refused.reason}. Webhooks may only reach public addresses (or what the operator's VMFLOW_OUTBOUND_ALLOW lists)`;
      throw new AppError(400, 'url_not_allowed', message, [{ field: 'url', message }]);
    }
    if ((await this.endpoints.countDocuments({ ownerId })) >= MAX_WEBHOOKS_PER_MEMBER) {
      throw quotaExceeded('webhooks', MAX_WEBHOOKS_PER_MEMBER, 'you have as many webhooks as a member may register');
    }
    const id = crypto.randomUUID();
    const secret = newWebhookSecret();
    const doc = await this.endpoints.create({
      _id: id,
      ownerId,
      url: input.url,
      ...(input.description ? { description: input.description } : {}),
      secret: encryptSecret(this.o.keyring, secret, webhookSecretAad(id)),
      createdAt: new Date(),
    });
    return { ...view(doc.toObject()), secret };
  }

  async list(ownerId: string, page: PageRequest = {}): Promise<{ items: WebhookView[]; nextCursor?: string }> {
    const p = await pageOf(this.endpoints, { ownerId }, { field: 'createdAt', direction: 1 }, page);
    return { items: p.items.map(view), ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) };
  }

  async get(ownerId: string, id: string): Promise<WebhookView> {
    const doc = await this.endpoints.findOne({ _id: id, ownerId }).lean();
    if (!doc) throw AppError.notFound('webhook');
    return view(doc);
  }

  /** Deletes the endpoint; deliveries still being retried to it stop (the activity finds it gone). */
  async delete(ownerId: string, id: string): Promise<void> {
    const res = await this.endpoints.deleteOne({ _id: id, ownerId });
    if (!res.deletedCount) throw AppError.notFound('webhook');
  }

  async deliveries(ownerId: string, id: string, page: PageRequest = {}): Promise<{ items: WebhookDeliveryView[]; nextCursor?: string }> {
    await this.get(ownerId, id);
    const p = await pageOf(webhookDeliveryModel(this.o.db), { ownerId, endpointId: id }, { field: 'createdAt', direction: -1 }, page);
    return { items: p.items.map(deliveryView), ...(p.nextCursor ? { nextCursor: p.nextCursor } : {}) };
  }
}
