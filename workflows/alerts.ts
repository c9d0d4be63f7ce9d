/**
 * deliverAlert — sends one disaster event to the operator's webhook (VMFLOW_WEBHOOK_URL) and to
 * every webhook endpoint the event's owner registered, each retrying with back-off for about an
 * hour on its own. It runs as an abandoned child of the DR (or drill) workflow, so a slow or dead
 * receiver never delays a failover; a delivery whose every attempt failed is marked `failed` (the
 * event stays listed in GET /api/v1/events, a member's delivery in their webhook's log).
 *
 * Histories from before members' webhooks replay the operator-only path (MEMBER_WEBHOOKS_PATCH).
 */
import { patched, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { describeError } from './lib/task-graph';

/** deliverAlert asks for the event's targets and delivers to members' endpoints too. */
export const MEMBER_WEBHOOKS_PATCH = 'member-webhooks';

const webhook = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 10, nonRetryableErrorTypes: ['EventNotFound', 'WebhookGone', 'WebhooksNotConfigured'] },
});
const store = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 5 } });

async function toOperator(eventId: string): Promise<boolean> {
  try {
    await webhook.deliverWebhook({ eventId });
    return true;
  } catch (err) {
    await store.markWebhookFailed({ eventId, error: describeError(err) });
    return false;
  }
}

async function toMember(eventId: string, endpointId: string): Promise<boolean> {
  try {
    await webhook.deliverMemberWebhook({ eventId, endpointId });
    return true;
  } catch {
    await store.markMemberWebhookFailed({ eventId, endpointId });
    return false;
  }
}

export async function deliverAlert(input: { eventId: string }): Promise<{ delivered: boolean }> {
  if (!patched(MEMBER_WEBHOOKS_PATCH)) return { delivered: await toOperator(input.eventId) };
  const targets = await store.alertTargets({ eventId: input.eventId });
  const results = await Promise.all([...(targets.operator ? [toOperator(input.eventId)] : []), ...targets.endpointIds.map((id) => toMember(input.eventId, id))]);
  return { delivered: results.every(Boolean) };
}
