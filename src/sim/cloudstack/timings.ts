/**
 * How long the simulated cloud takes for each step. `fast` keeps integration tests short;
 * `realistic` makes a demo look like a small KVM zone (VMs take seconds to boot, a destroyed VM
 * lingers before it is expunged). Any knob can be changed at run time via PATCH /_sim/timings.
 */
export interface CloudStackTimings {
  /** Added to every /client/api request before it is handled. */
  apiLatencyMs: number;
  /** deployVirtualMachine: Starting → Running (job completes). */
  deployMs: number;
  /** startVirtualMachine: Starting → Running. */
  startMs: number;
  /** stopVirtualMachine: Stopping → Stopped. */
  stopMs: number;
  /** rebootVirtualMachine job duration. */
  rebootMs: number;
  /** destroyVirtualMachine job duration. */
  destroyMs: number;
  /** A VM destroyed without expunge=true stays Destroyed this long, then is expunged. */
  expungeDelayMs: number;
  /** Expunging → gone (volumes deleted, addresses released). */
  expungeMs: number;
  /** createSnapshot: Creating → BackedUp. */
  snapshotMs: number;
  /** createTemplate job duration. */
  createTemplateMs: number;
  /** extractTemplate job duration until the URL is ready. */
  extractMs: number;
  /** deleteTemplate / deleteSnapshot job duration. */
  deleteMs: number;
  /** registerTemplate: "Installing Template" phase after the download finished. */
  installMs: number;
  /** Throttle for registerTemplate downloads in bytes per second; 0 means as fast as possible. */
  downloadBytesPerSec: number;
  /** Lifetime of an extractTemplate download URL. */
  downloadUrlTtlMs: number;
  /** Debounce for writing the state file. */
  persistDebounceMs: number;
}

export const FAST_TIMINGS: CloudStackTimings = {
  apiLatencyMs: 0,
  deployMs: 30,
  startMs: 20,
  stopMs: 20,
  rebootMs: 20,
  destroyMs: 20,
  expungeDelayMs: 150,
  expungeMs: 20,
  snapshotMs: 30,
  createTemplateMs: 30,
  extractMs: 20,
  deleteMs: 20,
  installMs: 20,
  downloadBytesPerSec: 0,
  downloadUrlTtlMs: 60_000,
  persistDebounceMs: 50,
};

export const REALISTIC_TIMINGS: CloudStackTimings = {
  apiLatencyMs: 40,
  deployMs: 8_000,
  startMs: 5_000,
  stopMs: 4_000,
  rebootMs: 6_000,
  destroyMs: 3_000,
  expungeDelayMs: 60_000,
  expungeMs: 2_000,
  snapshotMs: 10_000,
  createTemplateMs: 15_000,
  extractMs: 5_000,
  deleteMs: 2_000,
  installMs: 3_000,
  downloadBytesPerSec: 50 * 1024 * 1024,
  downloadUrlTtlMs: 60 * 60_000,
  persistDebounceMs: 500,
};

export type TimingsOption = 'fast' | 'realistic' | Partial<CloudStackTimings>;

/** A partial object is laid over the fast preset. */
export function resolveTimings(option: TimingsOption | undefined): CloudStackTimings {
  if (option === 'realistic') return { ...REALISTIC_TIMINGS };
  if (option === undefined || option === 'fast') return { ...FAST_TIMINGS };
  return { ...FAST_TIMINGS, ...option };
}

/** Validates a PATCH body: only known keys, non-negative finite numbers. */
export function mergeTimings(current: CloudStackTimings, patch: unknown): CloudStackTimings {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new Error('timings must be a JSON object');
  const next = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (!(k in FAST_TIMINGS)) throw new Error(`unknown timing "${k}"`);
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`timing "${k}" must be a non-negative number`);
    (next as Record<string, number>)[k] = v;
  }
  return next;
}
