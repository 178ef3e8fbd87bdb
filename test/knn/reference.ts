// Naive double-loop k-NN, written independently of src/knn: every query against every training row, full
// sort by (distance, index), majority vote with the documented tie rule. It is the ground truth the
// loop-free implementation must reproduce bit for bit.

export { mulberry32 as rng } from '../helpers/rng.js';

import { mulberry32 as rng } from '../helpers/rng.js';

/** `n × dims` float32 values in [lo, hi), or integers in [lo, hi) when `integer`. */
export function randomRows(
  n: number,
  dims: number,
  seed: number,
  lo = -1,
  hi = 1,
  integer = false,
): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n * dims }, () =>
    integer ? Math.floor(lo + r() * (hi - lo)) : lo + r() * (hi - lo),
  );
}

/** Random class labels 0..classes-1. */
export function randomLabels(n: number, classes: number, seed: number): Int32Array {
  const r = rng(seed);
  return Int32Array.from({ length: n }, () => Math.floor(r() * classes));
}

/** Distance of one pair, in float64 from float32 values (the exact quantity the classifier promises). */
export function pairDistance(
  metric: 'euclidean' | 'cosine',
  a: ArrayLike<number>,
  ao: number,
  b: ArrayLike<number>,
  bo: number,
  dims: number,
): number {
  if (metric === 'euclidean') {
    let s = 0;
    for (let i = 0; i < dims; i++) {
      const d = Math.fround(a[ao + i]) - Math.fround(b[bo + i]);
      s += d * d;
    }
    return s;
  }
  let na = 0;
  let nb = 0;
  let ab = 0;
  for (let i = 0; i < dims; i++) {
    const x = Math.fround(a[ao + i]);
    const y = Math.fround(b[bo + i]);
    na += x * x;
    nb += y * y;
    ab += x * y;
  }
  if (na === 0 || nb === 0) return 1;
  return Math.min(Math.max(1 - ab / (Math.sqrt(na) * Math.sqrt(nb)), 0), 2);
}

/** k nearest training rows of every query row by brute force: `{ indices, squared-or-cosine distances }`. */
export function naiveNeighbours(
  train: ArrayLike<number>,
  query: ArrayLike<number>,
  dims: number,
  k: number,
  metric: 'euclidean' | 'cosine' = 'euclidean',
): { indices: Int32Array; distances: Float64Array } {
  const n = train.length / dims;
  const m = query.length / dims;
  const indices = new Int32Array(m * k);
  const distances = new Float64Array(m * k);
  for (let q = 0; q < m; q++) {
    const all: { d: number; j: number }[] = [];
    for (let j = 0; j < n; j++)
      all.push({ d: pairDistance(metric, query, q * dims, train, j * dims, dims), j });
    all.sort((x, y) => x.d - y.d || x.j - y.j);
    for (let t = 0; t < k; t++) {
      indices[q * k + t] = all[t].j;
      distances[q * k + t] = all[t].d;
    }
  }
  return { indices, distances };
}

/** Majority vote (optionally 1/d weighted) with the tie rule: the nearest neighbour's class among the tied. */
export function naiveVote(
  neighbours: { indices: Int32Array; distances: Float64Array },
  labels: ArrayLike<number>,
  k: number,
  classes: number,
  weights: 'uniform' | 'distance' = 'uniform',
  metric: 'euclidean' | 'cosine' = 'euclidean',
): { pred: Int32Array; proba: Float64Array } {
  const m = neighbours.indices.length / k;
  const pred = new Int32Array(m);
  const proba = new Float64Array(m * classes);
  for (let q = 0; q < m; q++) {
    const votes = new Array<number>(classes).fill(0);
    const d = Array.from({ length: k }, (_, t) => {
      const v = neighbours.distances[q * k + t];
      return metric === 'euclidean' ? Math.sqrt(v) : v;
    });
    const anyZero = d.some((v) => v === 0);
    for (let t = 0; t < k; t++) {
      const c = labels[neighbours.indices[q * k + t]];
      if (weights === 'uniform') votes[c] += 1;
      else if (anyZero) votes[c] += d[t] === 0 ? 1 : 0;
      else votes[c] += 1 / d[t];
    }
    const top = Math.max(...votes);
    const tied = votes.map((v, c) => (v === top ? c : -1)).filter((c) => c >= 0);
    let winner = tied[0];
    if (tied.length > 1) {
      for (let t = 0; t < k; t++) {
        const c = labels[neighbours.indices[q * k + t]];
        if (tied.includes(c)) {
          winner = c;
          break;
        }
      }
    }
    pred[q] = winner;
    const sum = votes.reduce((a, b) => a + b, 0);
    for (let c = 0; c < classes; c++) proba[q * classes + c] = votes[c] / sum;
  }
  return { pred, proba };
}
