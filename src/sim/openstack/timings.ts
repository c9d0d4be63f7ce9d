/**
 * How long the simulated cloud takes to do things, and how big the bytes it makes are. `fast`
 * keeps integration tests short (tens of milliseconds per transition); `realistic` is for the
 * `npm start` demo, in the range a small devstack shows. Every knob can be changed at run time
 * with `PATCH /_sim/timings`.
 */
export interface OpenStackTimings {
  /** Nova: BUILD → ACTIVE (split over the scheduling, networking and spawning task states). */
  serverBuildMs: number;
  /** Nova: os-stop, powering-off → SHUTOFF. */
  serverStopMs: number;
  /** Nova: os-start, powering-on → ACTIVE. */
  serverStartMs: number;
  /** Nova: SOFT reboot (REBOOT status). */
  serverRebootMs: number;
  /** Nova: HARD reboot (HARD_REBOOT status). */
  serverHardRebootMs: number;
  /** Nova: DELETE answered 204, the server stays visible (task_state deleting) this long. */
  serverDeleteMs: number;
  /** Nova: resize → VERIFY_RESIZE. */
  serverResizeMs: number;
  /** Nova createImage: image_snapshot + image_pending_upload before the upload starts. */
  snapshotMs: number;
  /** Glance: extra time in `saving` (snapshot upload) on top of hashing the bytes. */
  imageSaveMs: number;
  /** Glance import: minimum time in `importing` on top of the real download. */
  importMs: number;
  /** Heat: bookkeeping time per resource action (on top of what the resource itself waits for). */
  stackResourceMs: number;
  /** Size of the bytes a Nova snapshot (createImage) produces. */
  snapshotBytes: number;
  /** Size of the bytes of each seeded public image. */
  seedImageBytes: number;
}

const MiB = 1024 * 1024;

export const FAST_TIMINGS: OpenStackTimings = {
  serverBuildMs: 40,
  serverStopMs: 20,
  serverStartMs: 20,
  serverRebootMs: 20,
  serverHardRebootMs: 30,
  serverDeleteMs: 20,
  serverResizeMs: 30,
  snapshotMs: 30,
  imageSaveMs: 20,
  importMs: 10,
  stackResourceMs: 5,
  snapshotBytes: MiB,
  seedImageBytes: MiB,
};

export const REALISTIC_TIMINGS: OpenStackTimings = {
  serverBuildMs: 8_000,
  serverStopMs: 3_000,
  serverStartMs: 4_000,
  serverRebootMs: 5_000,
  serverHardRebootMs: 8_000,
  serverDeleteMs: 3_000,
  serverResizeMs: 10_000,
  snapshotMs: 6_000,
  imageSaveMs: 3_000,
  importMs: 2_000,
  stackResourceMs: 1_000,
  snapshotBytes: MiB,
  seedImageBytes: MiB,
};

export type TimingsOption = 'fast' | 'realistic' | Partial<OpenStackTimings>;

/** A partial set is laid over `fast`, so tests name only what they care about. */
export function resolveTimings(opt: TimingsOption | undefined): OpenStackTimings {
  if (opt === 'realistic') return { ...REALISTIC_TIMINGS };
  if (opt === undefined || opt === 'fast') return { ...FAST_TIMINGS };
  return mergeTimings(FAST_TIMINGS, opt);
}

/** Validates and merges a patch; throws with the offending key on a bad value. */
export function mergeTimings(base: OpenStackTimings, patch: Record<string, unknown>): OpenStackTimings {
  const out = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (!(key in base)) throw new Error(`unknown timing '${key}' (known: ${Object.keys(base).join(', ')})`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`timing '${key}' must be a number >= 0`);
    (out as Record<string, number>)[key] = value;
  }
  return out;
}
