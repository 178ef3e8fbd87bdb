// Exact k-NN search for uint8 pixels (squared Euclidean distance, integer arithmetic) with the WebAssembly
// SIMD kernel of src/kernels/knn_u8.wat, and a plain JS path with the same results where SIMD is missing.
//
// Memory stays bounded: the training rows are stored once, as i16 in the kernel's memory (2 bytes per
// pixel: 94 MB for 60,000 × 784), and queries go through in blocks of `queryBlockRows`; no query × train
// matrix is ever formed. The kernel streams the training rows in blocks of `trainBlockRows` so that a block
// stays in cache while every query pair of the current block meets it.
//
// Results: for each query row, the k nearest training rows sorted by (distance, training index): among equal
// distances the lower training index comes first. Distances are exact squared Euclidean distances (int32).
import { FashionMnistError } from '../errors.js';
import { badOption, checkBoolean, checkNumber, mergeOptions, show } from '../internal/validate.js';
import { kernelModule } from '../kernels/load.js';
import { knnU8 } from '../kernels/wasm.generated.js';

const WHERE = 'createKnnKernel';
/** Largest row length: dims · 255² must stay below 2^31 so that every distance is an exact int32. */
export const KNN_KERNEL_MAX_DIMS = Math.floor(0x7fffffff / (255 * 255));
const PAGE = 65536;
const MAX_PAGES = 65536;
const EMPTY_DIST = 0x7fffffff;

/**
 * Options of {@link createKnnKernel}.
 * @example
 * ```ts
 * const kernel = createKnnKernel({ simd: false }); // force the plain JS path
 * ```
 */
export interface KnnKernelOptions {
  /** Use the WebAssembly SIMD kernel when the engine supports it (default true); false forces plain JS. */
  simd?: boolean;
  /** Query rows per block (default 256); bounds the scratch memory. */
  queryBlockRows?: number;
  /** Training rows streamed per pass over a query block (default 128, a multiple of 4). */
  trainBlockRows?: number;
}

/**
 * Nearest training rows of each query row, `rows × k` row-major, sorted by (distance, training index).
 * @example
 * ```ts
 * const { indices, distances } = kernel.search(queries, 5);
 * const nearest = indices[0]; // of query row 0
 * ```
 */
export interface KnnKernelResult {
  /** Training-row indices. */
  indices: Int32Array;
  /** Exact squared Euclidean distances. */
  distances: Int32Array;
  /** Query rows. */
  rows: number;
  /** Neighbours per row. */
  k: number;
}

/**
 * An exact k-NN search over uint8 rows. Create with {@link createKnnKernel}.
 * @example
 * ```ts
 * const kernel = createKnnKernel();
 * kernel.setTrain(trainPixels, 784);
 * const { indices } = kernel.search(testPixels, 5);
 * kernel.dispose();
 * ```
 */
export interface KnnKernel {
  /** True when searches run in WebAssembly SIMD, false on the plain JS path. */
  readonly simd: boolean;
  /** Training rows (0 before `setTrain`). */
  readonly rows: number;
  /** Pixels per row (0 before `setTrain`). */
  readonly dims: number;
  /** Stores the training rows (`rows × dims` uint8, row-major), replacing any previous ones. */
  setTrain(rows: Uint8Array, dims: number): void;
  /** The `k` nearest training rows of each query row (`n × dims` uint8, row-major). */
  search(queries: Uint8Array, k: number): KnnKernelResult;
  /** Releases the memory; later calls throw DISPOSED. */
  dispose(): void;
}

const DEFAULTS: Readonly<Required<KnnKernelOptions>> = Object.freeze({
  simd: true,
  queryBlockRows: 256,
  trainBlockRows: 128,
});

type SearchFn = (
  q: number,
  qn: number,
  pairs: number,
  t: number,
  tn: number,
  quad0: number,
  quad1: number,
  nValid: number,
  chunks: number,
  lists: number,
  k: number,
) => void;

/**
 * A k-NN search kernel: WebAssembly SIMD when available (and `options.simd` is not false), else plain JS;
 * both give the same neighbours and distances.
 * @example
 * ```ts
 * const kernel = createKnnKernel();
 * kernel.setTrain(trainPixels, 784);
 * const { indices, distances } = kernel.search(testPixels, 5);
 * ```
 */
export function createKnnKernel(options?: KnnKernelOptions): KnnKernel {
  const o = mergeOptions(WHERE, DEFAULTS, options);
  checkBoolean(WHERE, 'simd', o.simd);
  checkNumber(WHERE, 'queryBlockRows', o.queryBlockRows, { integer: true, min: 2, max: 65536 });
  checkNumber(WHERE, 'trainBlockRows', o.trainBlockRows, { integer: true, min: 4, max: 1 << 20 });
  if (o.trainBlockRows % 4 !== 0) {
    throw badOption(
      `${WHERE}: option 'trainBlockRows' must be a multiple of 4, received ${o.trainBlockRows}`,
    );
  }
  const mod = o.simd ? kernelModule(knnU8) : null;
  return mod == null ? new JsKnnKernel() : new WasmKnnKernel(mod, o.queryBlockRows, o.trainBlockRows);
}

function checkTrain(rows: unknown, dims: unknown): number {
  if (!(rows instanceof Uint8Array)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `KnnKernel.setTrain: rows must be a Uint8Array, received ${show(rows)}`,
    );
  }
  if (typeof dims !== 'number' || !Number.isInteger(dims) || dims < 1 || dims > KNN_KERNEL_MAX_DIMS) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `KnnKernel.setTrain: dims must be an integer from 1 to ${KNN_KERNEL_MAX_DIMS}, received ${show(dims)}`,
    );
  }
  if (rows.length === 0 || rows.length % dims !== 0) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `KnnKernel.setTrain: rows has ${rows.length} values, not a positive multiple of dims = ${dims}`,
    );
  }
  return rows.length / dims;
}

function checkSearch(queries: unknown, k: unknown, dims: number, rows: number): number {
  if (rows === 0) throw new FashionMnistError('NOT_FITTED', 'KnnKernel.search: call setTrain first');
  if (!(queries instanceof Uint8Array)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `KnnKernel.search: queries must be a Uint8Array, received ${show(queries)}`,
    );
  }
  if (queries.length % dims !== 0) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `KnnKernel.search: queries has ${queries.length} values, not a multiple of dims = ${dims}`,
    );
  }
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > rows) {
    throw badOption(
      `KnnKernel.search: k must be an integer from 1 to ${rows} (training rows), received ${show(k)}`,
    );
  }
  return queries.length / dims;
}

/** Sorted insertion with the kernel's rule; returns the new threshold (last distance). */
function insert(dist: Int32Array, idx: Int32Array, at: number, k: number, d: number, i: number): number {
  let j = k - 1;
  if (d < dist[at + j]) {
    while (j > 0 && dist[at + j - 1] > d) {
      dist[at + j] = dist[at + j - 1];
      idx[at + j] = idx[at + j - 1];
      j--;
    }
    dist[at + j] = d;
    idx[at + j] = i;
  }
  return dist[at + k - 1];
}

class JsKnnKernel implements KnnKernel {
  readonly simd = false;
  rows = 0;
  dims = 0;
  private train: Uint8Array | null = null;
  private disposed = false;

  setTrain(rows: Uint8Array, dims: number): void {
    if (this.disposed) throw new FashionMnistError('DISPOSED', 'KnnKernel.setTrain: the kernel was disposed');
    const n = checkTrain(rows, dims);
    this.train = rows.slice();
    this.rows = n;
    this.dims = dims;
  }

  search(queries: Uint8Array, k: number): KnnKernelResult {
    if (this.disposed) throw new FashionMnistError('DISPOSED', 'KnnKernel.search: the kernel was disposed');
    const n = checkSearch(queries, k, this.dims, this.rows);
    const { dims, rows } = this;
    const train = this.train as Uint8Array;
    const distances = new Int32Array(n * k).fill(EMPTY_DIST);
    const indices = new Int32Array(n * k).fill(-1);
    for (let r = 0; r < n; r++) {
      const qo = r * dims;
      const at = r * k;
      let thr = EMPTY_DIST;
      for (let t = 0; t < rows; t++) {
        const to = t * dims;
        let d = 0;
        for (let i = 0; i < dims && d < thr; i++) {
          const e = queries[qo + i] - train[to + i];
          d += e * e;
        }
        if (d < thr) thr = insert(distances, indices, at, k, d, t);
      }
    }
    return { indices, distances, rows: n, k };
  }

  dispose(): void {
    this.disposed = true;
    this.train = null;
  }
}

class WasmKnnKernel implements KnnKernel {
  readonly simd = true;
  rows = 0;
  dims = 0;
  private memory: WebAssembly.Memory | null;
  private readonly fn: SearchFn;
  private chunks = 0;
  private quads = 0;
  private tPtr = 64;
  private tnPtr = 0;
  private scratch = 0;

  constructor(
    mod: WebAssembly.Module,
    private readonly queryBlockRows: number,
    private readonly trainBlockRows: number,
  ) {
    this.memory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES });
    const instance = new WebAssembly.Instance(mod, { env: { memory: this.memory } });
    this.fn = instance.exports.search as SearchFn;
  }

  private live(where: string): WebAssembly.Memory {
    if (this.memory === null)
      throw new FashionMnistError('DISPOSED', `KnnKernel.${where}: the kernel was disposed`);
    return this.memory;
  }

  private ensure(memory: WebAssembly.Memory, bytes: number, where: string): void {
    const need = Math.ceil(bytes / PAGE);
    const have = memory.buffer.byteLength / PAGE;
    if (need <= have) return;
    try {
      if (need > MAX_PAGES) throw new RangeError(`${need} pages`);
      memory.grow(need - have);
    } catch (cause) {
      throw new FashionMnistError(
        'TOO_LARGE',
        `KnnKernel.${where}: needs ${(bytes / 2 ** 20).toFixed(0)} MiB of WebAssembly memory, more than this ` +
          'engine allows (at most 4 GiB); use fewer training rows',
        { cause },
      );
    }
  }

  setTrain(rows: Uint8Array, dims: number): void {
    const memory = this.live('setTrain');
    const n = checkTrain(rows, dims);
    const chunks = Math.ceil(dims / 8);
    const quads = Math.ceil(n / 4);
    const tBytes = quads * chunks * 64;
    const tnPtr = this.tPtr + tBytes;
    const scratch = tnPtr + quads * 16;
    this.ensure(memory, scratch, 'setTrain');
    const t16 = new Int16Array(memory.buffer, this.tPtr, tBytes / 2);
    const tn = new Int32Array(memory.buffer, tnPtr, quads * 4);
    t16.fill(0);
    tn.fill(0);
    for (let r = 0; r < n; r++) {
      // row r: quad r >> 2, lane r & 3; chunk c of the quad starts at (quad * chunks + c) * 32 i16 values
      const quadBase = (r >> 2) * chunks * 32 + (r & 3) * 8;
      const ro = r * dims;
      let s = 0;
      for (let i = 0; i < dims; i++) {
        const v = rows[ro + i];
        t16[quadBase + (i >> 3) * 32 + (i & 7)] = v;
        s += v * v;
      }
      tn[r] = s;
    }
    this.rows = n;
    this.dims = dims;
    this.chunks = chunks;
    this.quads = quads;
    this.tnPtr = tnPtr;
    this.scratch = scratch;
  }

  search(queries: Uint8Array, k: number): KnnKernelResult {
    const memory = this.live('search');
    const n = checkSearch(queries, k, this.dims, this.rows);
    const { dims, chunks, quads, rows } = this;
    const indices = new Int32Array(n * k);
    const distances = new Int32Array(n * k);
    if (n === 0) return { indices, distances, rows: n, k };
    const block = Math.min(this.queryBlockRows + (this.queryBlockRows & 1), n + (n & 1));
    const qPtr = this.scratch;
    const qnPtr = qPtr + (block / 2) * chunks * 64;
    const listPtr = qnPtr + block * 4;
    this.ensure(memory, listPtr + block * k * 8, 'search');
    const q16 = new Int16Array(memory.buffer, qPtr, (block / 2) * chunks * 32);
    const qn = new Int32Array(memory.buffer, qnPtr, block);
    const lists = new Int32Array(memory.buffer, listPtr, block * k * 2);
    const trainQuads = this.trainBlockRows / 4;
    for (let start = 0; start < n; start += block) {
      const m = Math.min(block, n - start);
      const pairs = (m + 1) >> 1;
      q16.fill(0);
      qn.fill(0);
      for (let r = 0; r < m; r++) {
        const base = (r >> 1) * chunks * 16 + (r & 1) * 8;
        const ro = (start + r) * dims;
        let s = 0;
        for (let i = 0; i < dims; i++) {
          const v = queries[ro + i];
          q16[base + (i >> 3) * 16 + (i & 7)] = v;
          s += v * v;
        }
        qn[r] = s;
      }
      for (let e = 0; e < pairs * 2 * k; e++) {
        lists[2 * e] = EMPTY_DIST;
        lists[2 * e + 1] = -1;
      }
      for (let q0 = 0; q0 < quads; q0 += trainQuads) {
        this.fn(
          qPtr,
          qnPtr,
          pairs,
          this.tPtr,
          this.tnPtr,
          q0,
          Math.min(quads, q0 + trainQuads),
          rows,
          chunks,
          listPtr,
          k,
        );
      }
      for (let r = 0; r < m; r++) {
        for (let j = 0; j < k; j++) {
          const e = (r * k + j) * 2;
          distances[(start + r) * k + j] = lists[e];
          indices[(start + r) * k + j] = lists[e + 1];
        }
      }
    }
    return { indices, distances, rows: n, k };
  }

  dispose(): void {
    this.memory = null;
    this.rows = 0;
  }
}
