/**
 * Small helpers shared by every part of the OpenStack simulator: a seedable random source (so a
 * seeded run makes the same ids, MACs and fault decisions every time), stable ids for seeded
 * objects (the same across restarts even without a state file), the timestamp formats the real
 * services use, and an abortable sleep.
 */
import crypto from 'node:crypto';
import { sleep as abortableSleep } from '../../sleep';

/**
 * sfc32: tiny, fast, good enough for ids and coin flips; its four words are the whole state, so
 * the state file can carry it and a restarted seeded simulator does not repeat ids.
 */
export class Rng {
  private s: [number, number, number, number];

  constructor(seed?: number | [number, number, number, number]) {
    if (Array.isArray(seed)) {
      this.s = [...seed] as [number, number, number, number];
      return;
    }
    const base = seed ?? crypto.randomBytes(4).readUInt32LE(0);
    const h = crypto.createHash('sha256').update(`vmflow-sim-rng:${base}`).digest();
    this.s = [h.readUInt32LE(0), h.readUInt32LE(4), h.readUInt32LE(8), h.readUInt32LE(12)];
    for (let i = 0; i < 12; i++) this.next();
  }

  get state(): [number, number, number, number] {
    return [...this.s] as [number, number, number, number];
  }

  restore(state: [number, number, number, number]): void {
    this.s = [...state] as [number, number, number, number];
  }

  next(): number {
    let [a, b, c, d] = this.s;
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    this.s = [a, b, c, d];
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.next() / 4294967296;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.next();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 0xff;
    }
    return out;
  }

  hex(chars: number): string {
    return this.bytes(Math.ceil(chars / 2)).toString('hex').slice(0, chars);
  }

  /** RFC 4122 version 4 layout, as Nova, Glance, Neutron and Heat use. */
  uuid(): string {
    return formatUuid(this.bytes(16), 4);
  }
}

function formatUuid(b: Buffer, version: number): string {
  b[6] = (b[6] & 0x0f) | (version << 4);
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** A name-based (version 5 layout) UUID: seeded images, networks and flavors keep their ids. */
export function stableUuid(name: string): string {
  return formatUuid(crypto.createHash('sha1').update(`vmflow-sim:${name}`).digest().subarray(0, 16), 5);
}

/** Keystone ids are 32 hex characters without dashes. */
export function stableHex32(name: string): string {
  return crypto.createHash('sha256').update(`vmflow-sim:${name}`).digest('hex').slice(0, 32);
}

/** `2024-05-01T10:11:12Z` — Nova, Glance, Neutron and Heat timestamps. */
export function isoSeconds(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `2024-05-01T10:11:12.123000Z` — Keystone token timestamps. */
export function isoMicros(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

/** `2024-05-01T10:11:12.123000` — Nova's OS-SRV-USG:launched_at (naive, no zone). */
export function isoMicrosNaive(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/Z$/, '000');
}

export class Stopped extends Error {
  constructor() {
    super('simulator stopped');
    this.name = 'Stopped';
  }
}

/** Resolves after `ms`, or rejects with Stopped as soon as `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await abortableSleep(ms, signal);
  } catch (err) {
    if (signal?.aborted) throw new Stopped();
    throw err;
  }
}

export function isUuidLike(s: string): boolean {
  return /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(s);
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => deepEqual(v, bb[i]));
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

export function countBy<T>(items: Iterable<T>, key: (t: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}
