/**
 * The concurrency limit in front of password hashing. scrypt with the default cost takes 128 MiB
 * and about a quarter second of a core per hash, on libuv's small thread pool: without a limit,
 * a flood of sign-ups (each one hash) queues every login behind it, and memory grows with the
 * flood.
 *
 * `slots` hashes run at once. Sign-ups may hold at most `slots - 1` of them (at least 1), so a
 * login always finds a slot soon, and waiting logins go before waiting sign-ups. At most
 * `maxQueued` calls wait; one more is refused with 503 + Retry-After instead of waiting without end.
 */
import { AppError } from '../errors';

export type HashPurpose = 'login' | 'signup';

interface Waiter {
  purpose: HashPurpose;
  start: () => void;
}

export class HashGate {
  private running = 0;
  private runningSignups = 0;
  private readonly waiting: Waiter[] = [];

  constructor(
    private readonly slots: number,
    private readonly maxQueued: number,
  ) {
    if (!Number.isInteger(slots) || slots < 1) throw new Error(`HashGate: slots must be a positive integer, got ${slots}`);
  }

  private get signupSlots(): number {
    return Math.max(1, this.slots - 1);
  }

  private canStart(purpose: HashPurpose): boolean {
    if (this.running >= this.slots) return false;
    return purpose === 'login' || this.runningSignups < this.signupSlots;
  }

  /** Runs `fn` when a slot is free for `purpose`; 503 when too many calls already wait. */
  async run<T>(purpose: HashPurpose, fn: () => Promise<T>): Promise<T> {
    if (!this.canStart(purpose) || this.waiting.length) {
      if (this.waiting.length >= this.maxQueued) {
        throw new AppError(503, 'busy', 'too many passwords are being checked right now; try again shortly', undefined, { retryAfterSeconds: 1 });
      }
      await new Promise<void>((start) => {
        this.waiting.push({ purpose, start });
        this.dispatch();
      });
    } else {
      this.acquire(purpose);
    }
    try {
      return await fn();
    } finally {
      this.running -= 1;
      if (purpose === 'signup') this.runningSignups -= 1;
      this.dispatch();
    }
  }

  private acquire(purpose: HashPurpose): void {
    this.running += 1;
    if (purpose === 'signup') this.runningSignups += 1;
  }

  /** Starts waiting calls while slots allow: logins first, then sign-ups, each in arrival order. */
  private dispatch(): void {
    for (;;) {
      let i = this.waiting.findIndex((w) => w.purpose === 'login' && this.canStart('login'));
      if (i < 0) i = this.waiting.findIndex((w) => w.purpose === 'signup' && this.canStart('signup'));
      if (i < 0) return;
      const [w] = this.waiting.splice(i, 1);
      this.acquire(w!.purpose);
      w!.start();
    }
  }

  /** For tests and metrics. */
  get stats(): { running: number; runningSignups: number; waiting: number } {
    return { running: this.running, runningSignups: this.runningSignups, waiting: this.waiting.length };
  }
}
