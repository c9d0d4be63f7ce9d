/**
 * An in-process sliding-window limiter (a log of attempt times per key). Each API process limits
 * on its own — acceptable for login throttling, and it needs no shared counter, which FerretDB
 * could not keep exact anyway ($inc races lose updates there).
 *
 * `take` records an attempt up front (so a burst of concurrent attempts cannot all slip past the
 * check while their password hashes run); `giveBack` removes it again, which login does on
 * success, so only failures accumulate.
 */
export interface LimitDecision {
  allowed: boolean;
  /** When refused: seconds until the oldest attempt leaves the window (at least 1). */
  retryAfterSeconds: number;
}

export class SlidingWindowLimiter {
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
    /** Bound on remembered keys, so a spray of usernames cannot grow memory without end. */
    private readonly maxKeys = 100_000,
  ) {}

  private live(key: string, now: number): number[] {
    const list = (this.attempts.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (list.length) this.attempts.set(key, list);
    else this.attempts.delete(key);
    return list;
  }

  /** Refuses when `limit` attempts are already in the window; otherwise records one and allows it. */
  take(key: string): LimitDecision {
    const now = this.now();
    const list = this.live(key, now);
    if (list.length >= this.limit) {
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((list[0]! + this.windowMs - now) / 1000)) };
    }
    if (!this.attempts.has(key) && this.attempts.size >= this.maxKeys) this.evictOldest(now);
    list.push(now);
    this.attempts.set(key, list);
    return { allowed: true, retryAfterSeconds: 0 };
  }

  /** Removes the most recent attempt of `key` (a success). */
  giveBack(key: string): void {
    const list = this.attempts.get(key);
    if (!list?.length) return;
    list.pop();
    if (!list.length) this.attempts.delete(key);
  }

  private evictOldest(now: number): void {
    for (const key of this.attempts.keys()) {
      this.live(key, now);
      if (this.attempts.size < this.maxKeys) return;
    }
    // Everything is live: drop the key inserted first (Map keeps insertion order).
    const first = this.attempts.keys().next();
    if (!first.done) this.attempts.delete(first.value);
  }
}
