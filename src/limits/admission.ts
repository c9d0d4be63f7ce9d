/**
 * Admission in front of creates (VMs, environments): at most `slots` run at once in this API
 * process and at most `maxQueued` wait for a slot; one more is answered 503 `busy` with
 * Retry-After at once. A create is a handful of writes, and the embedded database takes one writer
 * at a time: without a bound, a burst beyond what it takes queues every create inside the
 * database until all of them time out (bench/api-latency.ts at 200 creates/s served none); with
 * one, the admitted creates finish in time and the others are told to come back.
 */
import { AppError } from '../errors';

export class AdmissionGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly what: string,
    private readonly slots: number,
    private readonly maxQueued: number,
  ) {
    if (!Number.isInteger(slots) || slots < 1) throw new Error(`AdmissionGate: slots must be a positive integer, got ${slots}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new Error(`AdmissionGate: maxQueued must be a non-negative integer, got ${maxQueued}`);
  }

  /** Runs `fn` when a slot is free, in arrival order; 503 busy when too many already wait. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.slots || this.waiting.length) {
      if (this.waiting.length >= this.maxQueued) {
        throw new AppError(503, 'busy', `too many ${this.what} are being made right now; try again shortly`, undefined, { retryAfterSeconds: 1 });
      }
      // The slot is handed over by the call that frees it (running stays counted).
      await new Promise<void>((start) => this.waiting.push(start));
    } else {
      this.running += 1;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running -= 1;
    }
  }

  /** For tests and metrics. */
  get stats(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
