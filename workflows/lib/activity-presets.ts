/**
 * Named timeout and retry presets for calling activities, shared by every workflow (STYLE: presets
 * at the top, named for what the call is like). Activities already mark hopeless errors
 * non-retryable with a `type`; NON_RETRYABLE repeats those types so no retry policy ever spins on
 * them even if an activity forgot.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../../activities';

export const NON_RETRYABLE = [
  'BadRequest',
  'Unauthorized',
  'Forbidden',
  'NotFound',
  'QuotaExceeded',
  'InvalidRequirements',
  'Misconfigured',
  'VmNotFound',
  'VmNotActive',
  'VmError',
  'StackFailed',
  'AsyncJobFailed',
  'ImageFailed',
  'TemplateDownloadFailed',
  'NoBackup',
  'NotRestorable',
  'StandbyFailed',
  'VmNotStopped',
  'EventNotFound',
  'LiveCopyProtected',
];

/** One cloud API call: short, retried with back-off for up to 30 minutes (a cloud answering 503 for a while). */
export const cloudCall = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  scheduleToCloseTimeout: '30 minutes',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '20 seconds', nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * A cloud call on the recovery path: the clock is the RTO, so retries are short and few, and one
 * attempt lives at most 45 s: these calls answer in seconds, and an attempt lost with a killed
 * worker (they do not heartbeat) must not hold a failover or failback — with two copies running
 * half-way through a switch — for minutes (found by npm run soak, seeds 8 and 9).
 */
export const failoverCall = proxyActivities<Activities>({
  startToCloseTimeout: '45 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '10 seconds', nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Fencing the old primary (osFenceServer): it may wait up to 2 minutes for a stop, so its
 * start-to-close is long; it heartbeats on every poll, so a worker that dies mid-fence is noticed
 * within 30 s instead of holding the failover for the whole start-to-close.
 */
export const fenceCall = proxyActivities<Activities>({
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '30 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '10 seconds', nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Waiting for a cloud to finish (stack, image, template, VM state): long and heartbeating, so a dead worker is noticed within 30 s. */
export const statusPoll = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Waiting for a copy to run on the recovery path (a failover's standby start, a lost copy's
 * rebuild, the copy restarted after a failed failback): as statusPoll, but retried at most 10 s
 * apart — the VM is down meanwhile, and a 30 s back-off after a cloud outage can hit the next
 * fault and keep it down for minutes after the cloud answered again (soak seed 2). About the same
 * budget as statusPoll's 20 tries (some 8 minutes), then drVm's own failover retries take over.
 */
export const recoveryPoll = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 50, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Removing a VM for good (deleteVm's sweep of everything named after it): a delete is a promise
 * kept through outages — retried at most a minute apart for up to a day, where statusPoll gives up
 * after some 10 minutes (soak seed 14: alternating OpenStack and CloudStack outages failed a delete).
 */
export const deletePoll = proxyActivities<Activities>({
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '30 seconds',
  scheduleToCloseTimeout: '24 hours',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Copying image bytes: hours at most, heartbeating with the bytes copied. */
export const longTransfer = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * A failback's steps in the base cloud, taken while the VM's CloudStack copy is stopped for
 * imaging: a base cloud that stops answering fails the failback in well under a minute, so the copy
 * is started again (the VM runs) and the failback is tried later — instead of the VM staying down
 * through a long transfer's retries (soak seed 6: minutes down while OpenStack was out). The first
 * preset is for calls that heartbeat (the Glance import, the stack wait), the second for short calls.
 */
export const failbackBaseTransfer = proxyActivities<Activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});
export const failbackBaseCall = proxyActivities<Activities>({
  startToCloseTimeout: '45 seconds',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
});

/**
 * Removing what a finished switch left behind (the server the VM ran on before, the CloudStack
 * copy and template a failback came home from): a few quick tries, then drVm keeps the leftover
 * and tries again on its next health tick — never minutes of retries while the VM's new copy could break
 * unwatched (soak seed 5: a failback stayed FailingBack for minutes deleting the old server through
 * an OpenStack outage while its new home server broke).
 */
export const cleanupCall = proxyActivities<Activities>({
  startToCloseTimeout: '45 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '5 seconds', maximumAttempts: 3, nonRetryableErrorTypes: NON_RETRYABLE },
});

/** Reads and writes of vmflow's own records. */
export const store = proxyActivities<Activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 ms', backoffCoefficient: 2, maximumInterval: '10 seconds', nonRetryableErrorTypes: NON_RETRYABLE },
});

/** A health check is an observation: one short try (and one more), never a long retry. */
export const probe = proxyActivities<Activities>({ startToCloseTimeout: '20 seconds', retry: { maximumAttempts: 2, initialInterval: '1 second' } });

/**
 * Progress written for readers (recordOperationProgress): a local activity — one small database
 * write in the worker, no task queue round trip — tried twice at most; a lost write is only a
 * stale progress, never a failed workflow.
 */
export const progressWrite = proxyLocalActivities<Activities>({ startToCloseTimeout: '5 seconds', retry: { maximumAttempts: 2, initialInterval: '200 ms' } });
