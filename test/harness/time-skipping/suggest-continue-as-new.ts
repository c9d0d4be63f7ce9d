/**
 * Workflow interceptor of the time-skipping test bundle only: Temporal's test server never sets
 * `continueAsNewSuggested` (a real server does when a history grows long), so a test sends the
 * signal SUGGEST_CONTINUE_AS_NEW_SIGNAL and from that activation on the workflow sees
 * workflowInfo().continueAsNewSuggested === true, as it would in production. The signal is taken
 * out of the activation (no workflow handles it). Deterministic: the signal is in the history.
 */
import type { WorkflowInterceptorsFactory } from '@temporalio/workflow';
import { getActivator } from '@temporalio/workflow/lib/global-attributes';

export const SUGGEST_CONTINUE_AS_NEW_SIGNAL = 'vmflowTest.suggestContinueAsNew';

/** Per workflow execution (keyed by its activator): the suggestion was made. */
const suggested = new WeakSet<object>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  internals: [
    {
      activate(input, next) {
        const activator = getActivator();
        const jobs = input.activation.jobs ?? [];
        const i = jobs.findIndex((j) => j.signalWorkflow?.signalName === SUGGEST_CONTINUE_AS_NEW_SIGNAL);
        if (i >= 0) {
          jobs.splice(i, 1);
          suggested.add(activator);
        }
        if (suggested.has(activator)) activator.mutateWorkflowInfo((info) => ({ ...info, continueAsNewSuggested: true }));
        return next(input);
      },
    },
  ],
});
