/**
 * Fault injection for the cloud paths (never for /_sim): errors at a rate or for N hits, added
 * latency, requests that hang until the client gives up or the fault is cleared, and whole-cloud
 * outages (every path 503, or sockets destroyed without an answer).
 */
import { EventEmitter } from 'node:events';
import { SERVICE_NAMES, type ServiceName } from './model';
import type { Rng } from './util';

export interface FaultSpec {
  service?: ServiceName;
  method?: string;
  /** Regular expression tested against the full request path, e.g. `/compute/v2.1/servers$`. */
  path?: string;
  /** Status to answer with (default 503 unless the fault only adds latency or hangs). */
  status?: number;
  /** Probability that a matching request is hit, 0..1 (default 1). */
  rate?: number;
  /** Remove the fault after this many hits. */
  count?: number;
  /** Delay before answering (with `status`: then fail; without: then serve normally). */
  latencyMs?: number;
  /** Never answer until the client gives up or the fault is deleted (then serve normally). */
  hang?: boolean;
  /** Seconds, for the Retry-After header (429/413/503). */
  retryAfter?: number;
}

export interface Fault extends FaultSpec {
  id: string;
  hits: number;
  remaining?: number;
  createdAt: string;
}

/** What the pipeline must do with one request. */
export interface FaultDecision {
  faultId: string;
  hang: boolean;
  latencyMs: number;
  /** Undefined: after the delay, serve the request normally. */
  status?: number;
  retryAfter?: number;
}

export type OutageMode = '503' | 'refuse';

export class FaultSpecError extends Error {}

export class FaultInjector {
  private faults: Fault[] = [];
  private readonly regexes = new Map<string, RegExp>();
  private seq = 0;
  private readonly released = new EventEmitter();
  outage: OutageMode | null = null;
  totalHits = 0;

  constructor(private readonly rng: Rng) {
    this.released.setMaxListeners(0);
  }

  add(raw: unknown): Fault {
    const spec = validateSpec(raw);
    const fault: Fault = { ...spec, id: `fault-${++this.seq}`, hits: 0, remaining: spec.count, createdAt: new Date().toISOString() };
    if (spec.path !== undefined) this.regexes.set(fault.id, new RegExp(spec.path));
    this.faults.push(fault);
    return { ...fault };
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  /** Deletes one fault and releases the requests it holds hanging. */
  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    this.regexes.delete(id);
    this.released.emit(id);
    return this.faults.length < before;
  }

  /** Deletes every fault; requests hanging on any fault so far (even exhausted ones) go on. */
  clear(): void {
    this.faults = [];
    this.regexes.clear();
    for (let i = 1; i <= this.seq; i++) this.released.emit(`fault-${i}`);
  }

  /** The first active fault that applies to this request (and is hit, given its rate). */
  decide(service: ServiceName, method: string, path: string): FaultDecision | undefined {
    for (const f of this.faults) {
      if (f.service && f.service !== service) continue;
      if (f.method && f.method.toUpperCase() !== method.toUpperCase()) continue;
      const regex = this.regexes.get(f.id);
      if (regex && !regex.test(path)) continue;
      if (f.rate !== undefined && f.rate < 1 && this.rng.float() >= f.rate) continue;
      f.hits++;
      this.totalHits++;
      if (f.remaining !== undefined) {
        f.remaining--;
        if (f.remaining <= 0) {
          this.faults = this.faults.filter((x) => x !== f);
          this.regexes.delete(f.id);
        }
      }
      const onlyDelay = f.status === undefined && (f.latencyMs !== undefined || f.hang);
      return {
        faultId: f.id,
        hang: f.hang ?? false,
        latencyMs: f.latencyMs ?? 0,
        status: onlyDelay ? undefined : (f.status ?? 503),
        retryAfter: f.retryAfter,
      };
    }
    return undefined;
  }

  /** Resolves when the fault is deleted (or the signal aborts). */
  waitReleased(faultId: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.released.off(faultId, done);
        signal.removeEventListener('abort', done);
        resolve();
      };
      if (signal.aborted) return resolve();
      this.released.on(faultId, done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  reset(): void {
    this.clear();
    this.outage = null;
  }
}

function validateSpec(raw: unknown): FaultSpec {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FaultSpecError('fault must be a JSON object');
  const r = raw as Record<string, unknown>;
  const known = ['service', 'method', 'path', 'status', 'rate', 'count', 'latencyMs', 'hang', 'retryAfter'];
  for (const k of Object.keys(r)) if (!known.includes(k)) throw new FaultSpecError(`unknown fault field '${k}' (known: ${known.join(', ')})`);
  const spec: FaultSpec = {};
  if (r.service !== undefined) {
    if (!SERVICE_NAMES.includes(r.service as ServiceName)) throw new FaultSpecError(`service must be one of ${SERVICE_NAMES.join(', ')}`);
    spec.service = r.service as ServiceName;
  }
  if (r.method !== undefined) {
    if (typeof r.method !== 'string' || !/^[A-Za-z]+$/.test(r.method)) throw new FaultSpecError('method must be an HTTP method name');
    spec.method = r.method.toUpperCase();
  }
  if (r.path !== undefined) {
    if (typeof r.path !== 'string') throw new FaultSpecError('path must be a regular expression string');
    try {
      new RegExp(r.path);
    } catch (err) {
      throw new FaultSpecError(`path is not a valid regular expression: ${(err as Error).message}`);
    }
    spec.path = r.path;
  }
  const num = (k: string, min: number, max: number, int: boolean) => {
    const v = r[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
      throw new FaultSpecError(`${k} must be ${int ? 'an integer' : 'a number'} in ${min}..${max}`);
    }
    return v;
  };
  spec.status = num('status', 400, 599, true);
  spec.rate = num('rate', 0, 1, false);
  spec.count = num('count', 1, 1e9, true);
  spec.latencyMs = num('latencyMs', 0, 3_600_000, false);
  spec.retryAfter = num('retryAfter', 0, 86_400, true);
  if (r.hang !== undefined) {
    if (typeof r.hang !== 'boolean') throw new FaultSpecError('hang must be a boolean');
    spec.hang = r.hang;
  }
  for (const k of Object.keys(spec) as (keyof FaultSpec)[]) if (spec[k] === undefined) delete spec[k];
  return spec;
}
