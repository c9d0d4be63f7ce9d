/**
 * The soak's only source of randomness: mulberry32, a small seedable 32-bit generator. Same seed →
 * same numbers → same sequence of steps (which step, which VM slot, which parameters). Each step
 * draws a fixed number of values whatever the system's state, so a step the state makes
 * impossible (say, an outage of a cloud that is already out) is skipped without shifting the
 * steps that follow.
 */
import { mulberry32 } from '../../src/sim/mulberry32';

export { mulberry32 };

export class Rng {
  private readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** `n` values in [0, 1), drawn at once. */
  draws(n: number): number[] {
    return Array.from({ length: n }, () => this.next());
  }
}

/** Maps u ∈ [0, 1) to an integer in [lo, hi]. */
export const intOf = (u: number, lo: number, hi: number): number => lo + Math.min(hi - lo, Math.floor(u * (hi - lo + 1)));
export const pickOf = <T>(u: number, xs: readonly T[]): T => xs[intOf(u, 0, xs.length - 1)];
export const between = (u: number, lo: number, hi: number): number => lo + u * (hi - lo);

/** Weighted choice: `weights` need not sum to 1. */
export function weighted<K extends string>(u: number, weights: Record<K, number>): K {
  const entries = Object.entries(weights) as Array<[K, number]>;
  const total = entries.reduce((a, [, w]) => a + w, 0);
  let x = u * total;
  for (const [k, w] of entries) {
    if (x < w) return k;
    x -= w;
  }
  return entries[entries.length - 1][0];
}
