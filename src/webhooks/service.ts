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
/** Most delivery records one answer lists (newest first). */
export const MAX_DELIVERIES_LISTED = 100;

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
      throw new AppError(409, 'quota_exceeded', `a member may register at most ${MAX_WEBHOOKS_PER_MEMBER} webhooks`, undefined, { details: { quota: 'webhooks', limit: MAX_WEBHOOKS_PER_MEMBER } });
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

  async list(ownerId: string): Promise<WebhookView[]> {
    const docs = await this.endpoints.find({ ownerId }).sort({ createdAt: 1 }).limit(MAX_WEBHOOKS_PER_MEMBER).lean();
    return docs.map(view);
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

  async deliveries(ownerId: string, id: string): Promise<WebhookDeliveryView[]> {
    await this.get(ownerId, id);
    const docs = await webhookDeliveryModel(this.o.db).find({ ownerId, endpointId: id }).sort({ createdAt: -1 }).limit(MAX_DELIVERIES_LISTED).lean();
    return docs.map(deliveryView);
  }
}
