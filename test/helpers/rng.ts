/**
 * mulberry32: a tiny deterministic uniform [0, 1) generator for test data and reference simulations. It is kept
 * independent of seedrandom on purpose, so that tests of seeded library code do not share its generator.
 */
export function mulberry32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
