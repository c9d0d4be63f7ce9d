/**
 * deliverAlert — sends one disaster event to the configured webhook, retrying with back-off for
 * about an hour. It runs as an abandoned child of the DR workflow, so a slow or dead receiver never
 * delays a failover; when every attempt failed the event is marked `failed` (it stays listed in
 * GET /api/v1/events either way).
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { describeError } from './lib/task-graph';

const webhook = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 minutes', maximumAttempts: 10, nonRetryableErrorTypes: ['EventNotFound'] },
});
const store = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: { maximumAttempts: 5 } });

export async function deliverAlert(input: { eventId: string }): Promise<{ delivered: boolean }> {
  try {
    await webhook.deliverWebhook({ eventId: input.eventId });
    return { delivered: true };
  } catch (err) {
    await store.markWebhookFailed({ eventId: input.eventId, error: describeError(err) });
    return { delivered: false };
  }
}
