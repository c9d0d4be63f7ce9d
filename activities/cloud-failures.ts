/**
 * How activities report cloud errors to Temporal. Validation, auth, not-found and quota errors can
 * never succeed on retry: they become ApplicationFailure.nonRetryable with `type` = the error kind.
 * Rate limits keep the server's Retry-After as the next retry delay. Everything else (5xx, timeouts,
 * resets, conflicts of a transient state) is rethrown retryable for the activity's retry policy.
 */
import { ApplicationFailure } from '@temporalio/common';
import { CloudApiError } from '../src/clouds/errors';

export async function translateCloudErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toActivityFailure(err);
  }
}

export function toActivityFailure(err: unknown): unknown {
  if (!(err instanceof CloudApiError)) return err;
  const details = [{ method: err.method, url: err.url, status: err.status ?? null }];
  if (!err.retryable) return ApplicationFailure.create({ message: err.message, type: err.kind, nonRetryable: true, details, cause: err });
  if (err.kind === 'RateLimited' && err.retryAfterMs !== undefined) {
    return ApplicationFailure.create({ message: err.message, type: err.kind, nextRetryDelay: Math.max(err.retryAfterMs, 100), details });
  }
  return ApplicationFailure.create({ message: err.message, type: err.kind, details });
}
