/**
 * mulberry32: a small seedable 32-bit generator (uniform in [0, 1)). Same seed → same numbers:
 * the CloudStack simulator's fault decisions and the soak's steps replay from a seed with it.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
