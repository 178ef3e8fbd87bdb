// Examples added since the search index was built (the "tail") are searched exhaustively in JS and merged into
// the index's neighbour lists, so that adding one example does not rebuild (re-upload) the whole index. The
// distances are computed exactly as NeighbourIndex's refinement computes them (float64 from the float32 query
// values and the stored training values, the same summation order), so the merged lists are the lists a fresh
// index over every row would return: nearest first, equal distances by lower training index.
import type { KnnMetric, NeighbourLists } from './types.js';

/**
 * Merges training rows `[from, to)` of `train` (row-major, `dims` values per row) into `main`, the `k'`-nearest
 * lists over rows `[0, from)` (or null when `from` is 0), giving `k`-nearest lists over `[0, to)`.
 *
 * @example
 * ```ts
 * const lists = mergeTail(main, query, 5, train, 784, 1000, 1003, 'euclidean');
 * ```
 */
export function mergeTail(
  main: NeighbourLists | null,
  query: ArrayLike<number>,
  k: number,
  train: Uint8Array | Float32Array,
  dims: number,
  from: number,
  to: number,
  metric: KnnMetric,
): NeighbourLists {
  const rows = query.length / dims;
  const indices = new Int32Array(rows * k);
  const distances = new Float64Array(rows * k);
  const tailNorms = new Float64Array(to - from);
  if (metric === 'cosine') {
    for (let j = from; j < to; j++) {
      let s = 0;
      const o = j * dims;
      for (let i = 0; i < dims; i++) s += train[o + i] * train[o + i];
      tailNorms[j - from] = Math.sqrt(s);
    }
  }
  const q = new Float32Array(dims);
  const bestI = new Int32Array(k);
  const bestD = new Float64Array(k);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dims; i++) q[i] = query[r * dims + i];
    let n = 0;
    if (main !== null) {
      const mk = main.k;
      for (let t = 0; t < mk && n < k; t++, n++) {
        bestI[n] = main.indices[r * mk + t];
        bestD[n] = main.distances[r * mk + t];
      }
    }
    let qNorm = 0;
    if (metric === 'cosine') {
      let s = 0;
      for (let i = 0; i < dims; i++) s += q[i] * q[i];
      qNorm = Math.sqrt(s);
    }
    for (let j = from; j < to; j++) {
      const o = j * dims;
      let d: number;
      if (metric === 'euclidean') {
        let s = 0;
        for (let i = 0; i < dims; i++) {
          const x = q[i] - train[o + i];
          s += x * x;
        }
        d = s;
      } else {
        const nb = tailNorms[j - from];
        if (qNorm === 0 || nb === 0) d = 1;
        else {
          let s = 0;
          for (let i = 0; i < dims; i++) s += q[i] * train[o + i];
          d = Math.min(Math.max(1 - s / (qNorm * nb), 0), 2);
        }
      }
      // Row j has a higher index than every listed row, so it goes after those at an equal distance.
      if (n === k && !(d < bestD[k - 1])) continue;
      let at = n < k ? n : k - 1;
      while (at > 0 && bestD[at - 1] > d) {
        bestD[at] = bestD[at - 1];
        bestI[at] = bestI[at - 1];
        at--;
      }
      bestD[at] = d;
      bestI[at] = j;
      if (n < k) n++;
    }
    indices.set(bestI.subarray(0, k), r * k);
    distances.set(bestD.subarray(0, k), r * k);
  }
  return { indices, distances, rows, k };
}
