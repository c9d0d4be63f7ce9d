/**
 * Injected faults. One fault matches every API command or one (`command`, case-insensitive), fires
 * with probability `rate` (a seeded generator, so a run repeats), at most `count` times, and does
 * exactly one thing, chosen by which fields are set:
 *   hang          → the request is never answered (the client's timeout must fire);
 *   asyncJobFail  → the command is accepted but its async job ends jobstatus 2 with errorcode `status`;
 *   downloadFail  → registerTemplate is accepted but the download fails (status text, isready false);
 *   retryAfter    → HTTP 429 (or `status`) with a Retry-After header, like the API rate limiter;
 *   status        → an error answer with that errorcode = HTTP status;
 *   latencyMs only→ the request is delayed and then handled normally;
 *   nothing       → an error answer with 530.
 * `latencyMs` also delays the other kinds.
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import { mulberry32 } from '../mulberry32';

export const faultSpecSchema = z
  .object({
    command: z.string().min(1).optional(),
    status: z.number().int().min(400).max(599).optional(),
    rate: z.number().min(0).max(1).optional(),
    count: z.number().int().min(1).optional(),
    latencyMs: z.number().int().min(0).max(600_000).optional(),
    hang: z.boolean().optional(),
    retryAfter: z.number().min(0).max(86_400).optional(),
    asyncJobFail: z.boolean().optional(),
    downloadFail: z.boolean().optional(),
  })
  .strict();

export type FaultSpec = z.infer<typeof faultSpecSchema>;
export type FaultKind = 'hang' | 'asyncJobFail' | 'downloadFail' | 'rateLimit' | 'error' | 'latency';

export interface Fault extends FaultSpec {
  id: string;
  kind: FaultKind;
  /** Times it has fired. */
  fired: number;
  /** Remaining firings when `count` was given. */
  remaining?: number;
  created: string;
}

export function faultKind(spec: FaultSpec): FaultKind {
  if (spec.hang) return 'hang';
  if (spec.asyncJobFail) return 'asyncJobFail';
  if (spec.downloadFail) return 'downloadFail';
  if (spec.retryAfter !== undefined) return 'rateLimit';
  if (spec.status !== undefined) return 'error';
  if (spec.latencyMs !== undefined) return 'latency';
  return 'error';
}

/** Small, seedable, good enough to decide "does this fault fire". */
const seededRandom = mulberry32;

export class FaultSet {
  private faults: Fault[] = [];
  private random: () => number;

  constructor(private readonly seed: number) {
    this.random = seededRandom(seed);
  }

  add(spec: FaultSpec): Fault {
    const fault: Fault = {
      ...spec,
      id: crypto.randomUUID(),
      kind: faultKind(spec),
      fired: 0,
      ...(spec.count !== undefined ? { remaining: spec.count } : {}),
      created: new Date().toISOString(),
    };
    this.faults.push(fault);
    return fault;
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }));
  }

  get(id: string): Fault | undefined {
    return this.faults.find((f) => f.id === id);
  }

  remove(id: string): boolean {
    const before = this.faults.length;
    this.faults = this.faults.filter((f) => f.id !== id);
    return this.faults.length !== before;
  }

  clear(): void {
    this.faults = [];
    this.random = seededRandom(this.seed);
  }

  /**
   * The faults that fire for this request, in insertion order, at most one per kind. A fault of a
   * kind that cannot apply (asyncJobFail on a synchronous command, downloadFail on anything but
   * registerTemplate) is not consulted and keeps its count.
   */
  fire(command: string, applicable: (kind: FaultKind) => boolean): Fault[] {
    const fired: Fault[] = [];
    const kinds = new Set<FaultKind>();
    for (const f of this.faults) {
      if (f.command && f.command.toLowerCase() !== command.toLowerCase()) continue;
      if (kinds.has(f.kind) || !applicable(f.kind)) continue;
      if (f.rate !== undefined && this.random() >= f.rate) continue;
      f.fired += 1;
      if (f.remaining !== undefined) f.remaining -= 1;
      kinds.add(f.kind);
      fired.push({ ...f });
    }
    this.faults = this.faults.filter((f) => f.remaining === undefined || f.remaining > 0);
    return fired;
  }
}
