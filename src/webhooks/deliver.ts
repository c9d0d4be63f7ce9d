/**
 * One attempt to deliver a DR event to a member's webhook endpoint, following Standard Webhooks
 * (standardwebhooks.com): headers `webhook-id` (the event id, the same on every retry, so the
 * receiver can drop duplicates), `webhook-timestamp` (this attempt, seconds) and
 * `webhook-signature` (`v1,` + base64 HMAC-SHA256 over `id.timestamp.body` with the endpoint's
 * secret) — a receiver that checks the timestamp's age refuses a replayed request. The request
 * goes through the outbound guard (the URL is the member's), follows no redirect, and the
 * receiver's body is never read into the log.
 *
 * Used by the activities (activities/webhooks.ts); the secret is decrypted here, never passed
 * through Temporal.
 */
import type { Connection } from 'mongoose';
import { Webhook } from 'standardwebhooks';
import { request } from 'undici';
import { drEventModel, type DrEventRecord } from '../dr/model';
import { outboundRefusal, type OutboundGuard } from '../outbound/guard';
import { decryptSecret } from '../secrets/aead';
import type { Keyring } from '../secrets/keyring';
import { webhookDeliveryId, webhookDeliveryModel, webhookEndpointModel, webhookSecretAad } from './model';

export interface MemberWebhookDeps {
  db: Connection;
  keyring: Keyring;
  outbound: OutboundGuard;
}

/** The body sent: the Standard Webhooks shape `{type, timestamp, data}`. */
export function memberPayload(ev: DrEventRecord): string {
  return JSON.stringify({
    type: ev.kind,
    timestamp: new Date(ev.at).toISOString(),
    data: {
      eventId: ev._id,
      vmId: ev.vmId,
      message: ev.message,
      ...(ev.rpoSeconds !== undefined ? { rpoSeconds: ev.rpoSeconds } : {}),
      ...(ev.rtoSeconds !== undefined ? { rtoSeconds: ev.rtoSeconds } : {}),
      ...(ev.details ? { details: ev.details } : {}),
    },
  });
}

export type AttemptOutcome =
  | { result: 'delivered'; statusCode: number }
  /** Worth another attempt (non-2xx, no answer). */
  | { result: 'retry'; error: string; statusCode?: number }
  /** Never worth another (the endpoint or event is gone, the guard refuses the address). */
  | { result: 'give-up'; error: string };

/** The endpoints an event goes to (its owner's), each with a pending delivery record. */
export async function memberTargets(db: Connection, eventId: string): Promise<string[]> {
  const ev = await drEventModel(db).findById(eventId).lean();
  if (!ev) return [];
  const endpoints = await webhookEndpointModel(db).find({ ownerId: ev.ownerId }, { _id: 1 }).lean();
  const now = new Date();
  for (const e of endpoints) {
    await webhookDeliveryModel(db).updateOne(
      { _id: webhookDeliveryId(ev._id, e._id) },
      { $setOnInsert: { ownerId: ev.ownerId, endpointId: e._id, eventId: ev._id, eventKind: ev.kind, status: 'pending', attempts: 0, createdAt: now, updatedAt: now } },
      { upsert: true },
    );
  }
  return endpoints.map((e) => e._id);
}

export async function attemptMemberDelivery(deps: MemberWebhookDeps, input: { eventId: string; endpointId: string; attempt: number; signal?: AbortSignal }): Promise<AttemptOutcome> {
  const ev = await drEventModel(deps.db).findById(input.eventId).lean();
  const endpoint = await webhookEndpointModel(deps.db).findById(input.endpointId).lean();
  const deliveries = webhookDeliveryModel(deps.db);
  const _id = webhookDeliveryId(input.eventId, input.endpointId);
  if (!ev || !endpoint || endpoint.ownerId !== ev.ownerId) {
    const error = !ev ? 'the event no longer exists' : 'the webhook was deleted';
    await deliveries.updateOne({ _id }, { $set: { status: 'failed', lastError: error, updatedAt: new Date() } });
    return { result: 'give-up', error };
  }
  const body = memberPayload(ev);
  const at = new Date();
  const signature = new Webhook(decryptSecret(deps.keyring, endpoint.secret, webhookSecretAad(endpoint._id))).sign(ev._id, at, body);
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'vmflow-webhooks',
    'webhook-id': ev._id,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': signature,
  };
  let outcome: AttemptOutcome;
  try {
    const res = await request(endpoint.url, { method: 'POST', headers, body, dispatcher: deps.outbound.dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000, signal: input.signal });
    await res.body.dump();
    outcome = res.statusCode >= 200 && res.statusCode < 300 ? { result: 'delivered', statusCode: res.statusCode } : { result: 'retry', statusCode: res.statusCode, error: `the receiver answered ${res.statusCode}` };
  } catch (err) {
    const refused = outboundRefusal(err);
    if (refused) outcome = { result: 'give-up', error: `the address is not allowed: ${refused.reason}` };
    else outcome = { result: 'retry', error: `no answer: ${(err as { code?: string }).code ?? (err as Error).name}` };
  }
  const now = new Date();
  await deliveries.updateOne(
    { _id },
    {
      $set: {
        ownerId: ev.ownerId,
        endpointId: endpoint._id,
        eventId: ev._id,
        eventKind: ev.kind,
        attempts: input.attempt,
        updatedAt: now,
        status: outcome.result === 'delivered' ? 'delivered' : outcome.result === 'give-up' ? 'failed' : 'pending',
        ...(outcome.result === 'delivered' ? { deliveredAt: now, lastStatusCode: outcome.statusCode } : {}),
        ...(outcome.result === 'retry' && outcome.statusCode !== undefined ? { lastStatusCode: outcome.statusCode } : {}),
        ...(outcome.result !== 'delivered' ? { lastError: outcome.error } : {}),
      },
      $setOnInsert: { createdAt: now },
      ...(outcome.result === 'delivered' ? { $unset: { lastError: 1 } } : {}),
    },
    { upsert: true },
  );
  return outcome;
}

/** After the last attempt: the delivery is failed (its lastError is the last attempt's). */
export async function markMemberDeliveryFailed(db: Connection, input: { eventId: string; endpointId: string }): Promise<void> {
  await webhookDeliveryModel(db).updateOne({ _id: webhookDeliveryId(input.eventId, input.endpointId), status: { $ne: 'delivered' } }, { $set: { status: 'failed', updatedAt: new Date() } });
}
