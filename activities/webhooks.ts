/**
 * Delivery of DR events to members' own webhook endpoints (src/webhooks/deliver.ts), for the
 * deliverAlert workflow: which endpoints an event goes to, one attempt per activity attempt (the
 * workflow's retry policy backs off between them), and the final failure. Inputs are ids only: the
 * endpoint's secret is read and decrypted inside the activity, never put in workflow history.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { attemptMemberDelivery, markMemberDeliveryFailed, memberTargets } from '../src/webhooks/deliver';
import type { ActivityDeps } from './deps';

export function createWebhookActivities(deps: ActivityDeps) {
  return {
    /** Whether the operator's webhook is configured, and the event owner's endpoints (deliveries recorded pending). */
    async alertTargets(input: { eventId: string }): Promise<{ operator: boolean; endpointIds: string[] }> {
      return { operator: !!deps.alerts?.webhookUrl, endpointIds: await memberTargets(deps.db, input.eventId) };
    },

    /** One attempt; a non-2xx answer or none is retryable, a deleted endpoint or refused address is not. */
    async deliverMemberWebhook(input: { eventId: string; endpointId: string }): Promise<{ statusCode: number }> {
      if (!deps.webhooks) throw ApplicationFailure.nonRetryable('this worker has no webhook keyring and guard', 'WebhooksNotConfigured');
      const ctx = Context.current();
      const outcome = await attemptMemberDelivery({ db: deps.db, ...deps.webhooks }, { ...input, attempt: ctx.info.attempt, signal: ctx.cancellationSignal });
      if (outcome.result === 'delivered') return { statusCode: outcome.statusCode };
      if (outcome.result === 'give-up') throw ApplicationFailure.nonRetryable(outcome.error, 'WebhookGone');
      throw ApplicationFailure.retryable(outcome.error, 'WebhookNotAccepted');
    },

    async markMemberWebhookFailed(input: { eventId: string; endpointId: string }): Promise<void> {
      await markMemberDeliveryFailed(deps.db, input);
    },
  };
}
