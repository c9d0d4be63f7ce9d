/**
 * Sliding-window attempt limits kept in the database, so every API process sees the same counts.
 *
 * Why not a counter (rate-limiter-flexible's MongoDB store, one `$inc` per attempt): on FerretDB,
 * the embedded default, racing `$inc`s lose updates (README, "Persistence on FerretDB") — measured
 * here too: a burst of 12 wrong passwords against a limit of 3 let 8 through. Inserts do not race,
 * so each attempt is its own document: insert it, then count the key's attempts in the window; over
 * the limit, delete it again and refuse. The n-th attempt allowed counts at least the n - 1 allowed
 * before it (they are never deleted by a refusal), so no more than `points` are ever allowed, on
 * MongoDB and FerretDB alike, whichever process they reach.
 *
 * Keys are hashed before they are stored: a login key holds a username, and people type passwords
 * into the username field. Refused attempts leave nothing behind, so one key holds at most `points`
 * documents; expired ones are deleted by `pruneExpiredThrottles` (FerretDB v1 has no TTL index).
 */
import crypto from 'node:crypto';
import type { Connection } from 'mongoose';

export const RATE_LIMIT_COLLECTION = 'rate_limit_attempts';

interface AttemptDoc {
  _id: string;
  key: string;
  at: Date;
  expire: Date;
}

export interface ThrottleSpec {
  /** Distinguishes this limit's keys from the others' in the shared collection. */
  name: string;
  /** Attempts allowed per window. */
  points: number;
  windowSeconds: number;
}

export type ThrottleDecision =
  | { allowed: true; retryAfterSeconds: 0; /** Takes the attempt back (a success). */ giveBack: () => Promise<void> }
  | { allowed: false; /** Until the oldest attempt leaves the window (at least 1). */ retryAfterSeconds: number };

export class Throttle {
  constructor(
    private readonly db: Connection,
    readonly spec: ThrottleSpec,
    private readonly namespace = '',
    private readonly now: () => number = Date.now,
  ) {}

  private get attempts() {
    return this.db.collection<AttemptDoc>(RATE_LIMIT_COLLECTION);
  }

  private keyOf(key: string): string {
    return crypto.createHash('sha256').update(`${this.namespace}${this.spec.name}\u0000${key}`, 'utf8').digest('base64url');
  }

  /** Records one attempt, or refuses when the window already holds `points` of them. */
  async take(key: string): Promise<ThrottleDecision> {
    const k = this.keyOf(key);
    const now = this.now();
    const windowMs = this.spec.windowSeconds * 1000;
    const _id = crypto.randomUUID();
    await this.attempts.insertOne({ _id, key: k, at: new Date(now), expire: new Date(now + windowMs) });
    const inWindow = await this.attempts.countDocuments({ key: k, at: { $gt: new Date(now - windowMs) } });
    if (inWindow <= this.spec.points) {
      return { allowed: true, retryAfterSeconds: 0, giveBack: async () => void (await this.attempts.deleteOne({ _id })) };
    }
    await this.attempts.deleteOne({ _id });
    const oldest = await this.attempts.find({ key: k, at: { $gt: new Date(now - windowMs) } }).sort({ at: 1 }).limit(1).next();
    const until = oldest ? oldest.at.getTime() + windowMs : now + windowMs;
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)) };
  }
}

/**
 * Takes an attempt on every limit at once: allowed only when all allow it, and then `giveBack`
 * returns them all (a success). When any refuses, the others' attempts are taken back at once, so a
 * refused request counts nowhere, and the longest Retry-After is answered.
 */
export async function takeAll(
  entries: Array<[Throttle, string]>,
): Promise<{ allowed: true; giveBack: () => Promise<void> } | { allowed: false; retryAfterSeconds: number; limitedBy: string[] }> {
  const decisions = await Promise.all(entries.map(([t, k]) => t.take(k)));
  const giveBack = async () => {
    await Promise.all(decisions.map((d) => (d.allowed ? d.giveBack() : undefined)));
  };
  const limitedBy = decisions.flatMap((d, i) => (d.allowed ? [] : [entries[i]![0].spec.name]));
  if (!limitedBy.length) return { allowed: true, giveBack };
  await giveBack();
  return { allowed: false, retryAfterSeconds: Math.max(...decisions.map((d) => d.retryAfterSeconds)), limitedBy };
}

/** The index the counts use. */
export async function ensureThrottleIndexes(db: Connection): Promise<void> {
  await db.collection(RATE_LIMIT_COLLECTION).createIndex({ key: 1, at: 1 });
}

/** Deletes attempts whose window has ended (FerretDB v1 has no TTL index); the number deleted. */
export async function pruneExpiredThrottles(db: Connection, now = new Date()): Promise<number> {
  const res = await db.collection(RATE_LIMIT_COLLECTION).deleteMany({ expire: { $lte: now } });
  return res.deletedCount ?? 0;
}
