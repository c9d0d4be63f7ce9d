/**
 * The one abortable sleep of the code base (clients, simulators, benchmarks). Built on
 * `node:timers/promises`, which clears its timer and removes its abort listener as soon as the
 * wait ends either way, so many sleeps on one long-lived signal leave nothing behind.
 */
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Resolves after `ms` (at once for `ms <= 0`); rejects with the signal's own reason as soon as
 * `signal` aborts (or at once if it already has), not with Node's generic AbortError.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) throw signal.reason;
  if (ms <= 0) return;
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    throw err;
  }
}
