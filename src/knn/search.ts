// Exact k-nearest-neighbour search: one matrix product per query chunk on the tfjs backend finds a short
// list of candidates, then their distances are recomputed in float64 from the original values and a
// rounding-error bound proves that no image outside the list can be closer.
//
// Why the second step: with float32 arithmetic, ||a||² − 2a·b + ||b||² on raw pixels (norms up to
// 784·255² ≈ 5.1e7 > 2^24) is not exact, and near-equal distances swap places, which changes votes.
import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';
import { requireBackend } from '../internal/backend.js';
import type {
  KnnIndex,
  KnnMetric,
  KnnRows,
  KnnSearch,
  KnnSearchJob,
  NeighbourLists,
  SearchProgress,
  SearchStats,
} from './types.js';

const U = 2 ** -24;

/** The error of a search whose index was disposed (classifier disposed or refitted) before it finished. */
function aborted(): FashionMnistError {
  return new FashionMnistError(
    'ABORTED',
    'k-NN search: the classifier was disposed (or fitted again) during the search; its result is gone',
  );
}
/** Higham's γ_n = n·u / (1 − n·u): bound on the relative error of any float32 sum of n terms. */
const gamma = (n: number): number => (n * U) / (1 - n * U);

/**
 * Candidates per query row for a first pass: enough margin that the proof almost always succeeds.
 *
 * @example
 * ```ts
 * defaultCandidates(5, 60000); // 26
 * ```
 */
export function defaultCandidates(k: number, rows: number): number {
  return Math.min(rows, 2 * k + 16);
}

/**
 * The training side of a neighbour search, held on the current tfjs backend. Rows are stored transposed
 * (`[features, N]`) so that each chunk's product is a plain `matMul(q, M)`: the wasm backend runs that on
 * XNNPACK's fast path, while `transposeB: true` is an order of magnitude slower there.
 *
 * For `euclidean` the matrix has one more row holding ||b||², and a query row is sent as `[2a, −1]`, so the
 * single product yields 2a·b − ||b||² = ||a||² − ||a − b||²: the largest scores are the nearest rows and
 * `topk` selects them directly, with no broadcast subtraction.
 *
 * @example
 * ```ts
 * const index = new NeighbourIndex({ values: train, rows: 60000, dims: 784 }, 'euclidean');
 * const { lists } = await index.search(query, 5, 279);
 * index.dispose();
 * ```
 */
export class NeighbourIndex {
  readonly rows: number;
  readonly dims: number;
  readonly metric: KnnMetric;
  private readonly train: Uint8Array | Float32Array;
  /** euclidean: exact ||b||²; cosine: ||b||. */
  private readonly norms: Float64Array;
  private readonly normMax: number;
  private matrix: tf.Tensor2D | null;

  constructor(data: KnnRows, metric: KnnMetric) {
    this.rows = data.rows;
    this.dims = data.dims;
    this.metric = metric;
    this.train = data.values;
    const { rows, dims } = data;
    const norms = new Float64Array(rows);
    let normMax = 0;
    for (let j = 0; j < rows; j++) {
      let s = 0;
      const o = j * dims;
      for (let i = 0; i < dims; i++) s += data.values[o + i] * data.values[o + i];
      norms[j] = metric === 'euclidean' ? s : Math.sqrt(s);
      if (norms[j] > normMax) normMax = norms[j];
    }
    this.norms = norms;
    this.normMax = normMax;
    this.matrix = tf.tensor2d(this.layout(), [metric === 'euclidean' ? dims + 1 : dims, rows], 'float32');
  }

  /** The transposed training matrix, blocked so that both the reads and the writes stay in cache. */
  private layout(): Float32Array {
    const { rows, dims, train, norms } = this;
    const extra = this.metric === 'euclidean' ? 1 : 0;
    const out = new Float32Array((dims + extra) * rows);
    const scale = new Float64Array(rows);
    for (let j = 0; j < rows; j++)
      scale[j] = this.metric === 'cosine' ? (norms[j] > 0 ? 1 / norms[j] : 0) : 1;
    const B = 64;
    for (let j0 = 0; j0 < rows; j0 += B) {
      const j1 = Math.min(rows, j0 + B);
      for (let i0 = 0; i0 < dims; i0 += B) {
        const i1 = Math.min(dims, i0 + B);
        for (let j = j0; j < j1; j++) {
          const s = scale[j];
          const o = j * dims;
          for (let i = i0; i < i1; i++) out[i * rows + j] = train[o + i] * s;
        }
      }
    }
    if (extra) for (let j = 0; j < rows; j++) out[dims * rows + j] = norms[j];
    return out;
  }

  /** Frees the backend memory. */
  dispose(): void {
    this.matrix?.dispose();
    this.matrix = null;
  }

  /** Exact distance between query row `q[qo..]` (float32 values) and training row `j`. */
  private exact(q: Float32Array, qo: number, qNorm: number, j: number): number {
    const { train, dims } = this;
    const o = j * dims;
    if (this.metric === 'euclidean') {
      let s = 0;
      for (let i = 0; i < dims; i++) {
        const d = q[qo + i] - train[o + i];
        s += d * d;
      }
      return s;
    }
    const nb = this.norms[j];
    if (qNorm === 0 || nb === 0) return 1;
    let s = 0;
    for (let i = 0; i < dims; i++) s += q[qo + i] * train[o + i];
    const d = 1 - s / (qNorm * nb);
    return Math.min(Math.max(d, 0), 2);
  }

  /**
   * Finds the `k` nearest training rows of every query row. Ties in distance go to the lower training
   * index, so the result is one well-defined list whatever the chunking or backend.
   */
  async search(
    query: Float32Array,
    k: number,
    batchSize: number,
    onProgress?: (p: SearchProgress) => void,
    candidates = defaultCandidates(k, this.rows),
  ): Promise<{ lists: NeighbourLists; stats: SearchStats }> {
    const { dims } = this;
    const n = query.length / dims;
    const indices = new Int32Array(n * k);
    const distances = new Float64Array(n * k);
    const qNorms = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let i = 0; i < dims; i++) s += query[r * dims + i] * query[r * dims + i];
      qNorms[r] = this.metric === 'euclidean' ? s : Math.sqrt(s);
    }
    const total = Math.ceil(n / batchSize);
    const first = Math.max(k, Math.min(this.rows, candidates));
    const stats: SearchStats = { batchSize, chunks: total, candidates: first, rescued: 0 };
    for (let c = 0; c < total; c++) {
      const start = c * batchSize;
      const end = Math.min(n, start + batchSize);
      if (this.matrix === null) throw aborted();
      let pending = Array.from({ length: end - start }, (_, r) => start + r);
      let m = first;
      while (pending.length > 0) {
        const failed = await this.pass(query, qNorms, pending, k, m, indices, distances);
        if (failed.length > 0) {
          if (m === first) stats.rescued += failed.length;
          m = Math.min(this.rows, m * 4);
        }
        pending = failed;
      }
      onProgress?.({ done: c + 1, total, rowsDone: end, rows: n });
      if (c + 1 < total) await tf.nextFrame();
    }
    return { lists: { indices, distances, rows: n, k }, stats };
  }

  /**
   * One candidate pass for the given query rows: matMul + topk(m) on the backend, exact distances for the
   * candidates, and the proof. Returns the rows whose proof failed.
   */
  private async pass(
    query: Float32Array,
    qNorms: Float64Array,
    rowIds: number[],
    k: number,
    m: number,
    outIdx: Int32Array,
    outDist: Float64Array,
  ): Promise<number[]> {
    const { dims } = this;
    const c = rowIds.length;
    const all = m >= this.rows;
    let candIdx: Int32Array;
    let candScore: Float32Array | null = null;
    if (all) {
      // Every training row is a candidate: nothing for the backend to prune.
      candIdx = new Int32Array(c * m);
      for (let r = 0; r < c; r++) for (let j = 0; j < m; j++) candIdx[r * m + j] = j;
    } else {
      if (this.matrix === null) throw aborted();
      const cols = this.metric === 'euclidean' ? dims + 1 : dims;
      const buf = new Float32Array(c * cols);
      for (let r = 0; r < c; r++) {
        const qo = rowIds[r] * dims;
        const bo = r * cols;
        if (this.metric === 'euclidean') {
          for (let i = 0; i < dims; i++) buf[bo + i] = 2 * query[qo + i];
          buf[bo + dims] = -1;
        } else {
          const s = qNorms[rowIds[r]] > 0 ? 1 / qNorms[rowIds[r]] : 0;
          for (let i = 0; i < dims; i++) buf[bo + i] = query[qo + i] * s;
        }
      }
      const matrix = this.matrix;
      const top = tf.tidy(() => tf.topk(tf.matMul(tf.tensor2d(buf, [c, cols], 'float32'), matrix), m, true));
      try {
        const [v, ix] = await Promise.all([top.values.data(), top.indices.data()]);
        candScore = v as Float32Array;
        candIdx = ix as Int32Array;
      } finally {
        top.values.dispose();
        top.indices.dispose();
      }
    }
    const failed: number[] = [];
    const exactD = new Float64Array(m);
    const order = new Int32Array(m);
    const errBound = 2 * gamma(dims + 2);
    for (let r = 0; r < c; r++) {
      const row = rowIds[r];
      const qo = row * dims;
      const base = r * m;
      for (let j = 0; j < m; j++) {
        exactD[j] = this.exact(query, qo, qNorms[row], candIdx[base + j]);
        order[j] = j;
      }
      const sorted = Array.from(order).sort(
        (a, b) => exactD[a] - exactD[b] || candIdx[base + a] - candIdx[base + b],
      );
      if (!all && candScore !== null) {
        // Every row left out scored no higher than the last candidate, so its approximate distance is at
        // least `far`, and its exact distance at least `far − bound`. If the k-th exact distance is below
        // that, the list is complete (strictly below, so that index-order ties cannot hide outside it).
        const last = candScore[base + m - 1];
        const far = this.metric === 'euclidean' ? qNorms[row] - last : 1 - last;
        const bound =
          this.metric === 'euclidean' ? errBound * (qNorms[row] + 2 * this.normMax) : 2 * errBound + 16 * U;
        const kth = exactD[sorted[k - 1]];
        if (!(kth < far - bound)) {
          failed.push(row);
          continue;
        }
      }
      for (let t = 0; t < k; t++) {
        outIdx[row * k + t] = candIdx[base + sorted[t]];
        outDist[row * k + t] = exactD[sorted[t]];
      }
    }
    return failed;
  }
}

/**
 * Query rows per chunk so that the chunk's `[rows, N]` score matrix (and topk's copy) fits `budgetBytes`.
 *
 * @example
 * ```ts
 * chunkRows(128 * 2 ** 20, 60000, 10000); // 279
 * ```
 */
export function chunkRows(budgetBytes: number, trainRows: number, queryRows: number): number {
  const perRow = trainRows * 4 * 2;
  return Math.max(1, Math.min(Math.max(queryRows, 1), Math.floor(budgetBytes / perRow)));
}

/** The default strategy's index: a {@link NeighbourIndex} on the active backend, checked before each search. */
class TfjsIndex implements KnnIndex {
  constructor(private readonly index: NeighbourIndex) {}

  async search({ where, query, k, batchSize, onProgress }: KnnSearchJob) {
    requireBackend(where);
    const values = query.values instanceof Float32Array ? query.values : Float32Array.from(query.values);
    return this.index.search(values, k, batchSize, onProgress);
  }

  dispose(): void {
    this.index.dispose();
  }
}

/**
 * The default search strategy of `KnnClassifier`: the training matrix lives on the active TensorFlow.js
 * backend (any environment, any backend), one matrix product per query chunk, exact refinement in JS.
 *
 * @example
 * ```ts
 * const knn = new KnnClassifier({ search: tfjsSearch }); // the same as leaving `search` out
 * ```
 */
export const tfjsSearch: KnnSearch = Object.freeze({
  name: 'tfjs',
  index(train: KnnRows, metric: KnnMetric, where: string): KnnIndex {
    requireBackend(where);
    return new TfjsIndex(new NeighbourIndex(train, metric));
  },
});
