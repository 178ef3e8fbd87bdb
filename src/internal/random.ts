// The one source of randomness for every seeded thing in the library (erasing, shuffles, splits, dropout,
// training): seedrandom's ARC4, keyed by a string or a number. A number seed and its decimal string give the
// same stream, so `seed: 7` and `seed: '7'` are the same run everywhere.
import seedrandom from 'seedrandom';
import { badOption, show } from './validate.js';

/** A seed: any string, or a finite number (the same stream as its decimal string). */
export type Seed = string | number;

/** A source of uniform random numbers in [0, 1), such as `Math.random` or a seeded generator. */
export type RandomSource = () => number;

/** Checks a user-supplied seed; returns it. */
export function checkSeed(where: string, seed: unknown, name = 'seed'): Seed {
  if (typeof seed === 'string') return seed;
  if (typeof seed !== 'number' || !Number.isFinite(seed)) {
    throw badOption(`${where}: option '${name}' must be a finite number or a string, received ${show(seed)}`);
  }
  return seed;
}

/**
 * A seeded uniform generator: the same seed gives the same stream on every platform. Without a seed, one is
 * drawn from `crypto.getRandomValues` (pass a seed whenever results must be reproducible). `parts` derive an
 * independent stream from one seed (e.g. `createRandomSource(seed, epoch, 'shuffle')`).
 */
export function createRandomSource(seed?: Seed, ...parts: (string | number)[]): RandomSource {
  const base = seed === undefined ? freshSeed() : seed;
  return seedrandom([String(base), ...parts.map(String)].join('/'));
}

/** A fresh random 32-bit seed, for callers that must remember (and report) the seed they used. */
export function freshSeed(): number {
  const c = (globalThis as { crypto?: { getRandomValues?: (a: Uint32Array) => Uint32Array } }).crypto;
  if (c?.getRandomValues) return c.getRandomValues(new Uint32Array(1))[0]!;
  return Math.floor(Math.random() * 0x1_0000_0000);
}

/** Fisher–Yates permutation of 0..n-1 drawn from `random`. */
export function permutationFrom(n: number, random: RandomSource): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = out[i]!;
    out[i] = out[j]!;
    out[j] = t;
  }
  return out;
}
