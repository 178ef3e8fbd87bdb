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
  /**
   * Skip the rows that a cheap exact lower bound proves too far (default true; same results either way).
   * The bound compares sums of `pruneGroup` consecutive pixels (Cauchy–Schwarz), in integers.
   */
  prune?: boolean;
  /** Pixels summed per group by the pruning bound (default 4; 2 to 64; lowered when dims is large). */
  pruneGroup?: number;
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
  prune: true,
  pruneGroup: 4,
});

/** The kernel module's exports (src/kernels/knn_u8.wat). */
export interface KnnExports {
  search(...args: number[]): void;
  searchPruned(...args: number[]): void;
}

/** Interleaves `rows` (n × dims uint8) as i16 in groups of `lanes` rows (see src/kernels/knn_u8.wat). */
function interleave(
  src: Uint8Array,
  n: number,
  dims: number,
  group: number,
  lanes: number,
  chunks: number,
  out: Int16Array,
  norms: Int32Array,
): void {
  const blockValues = chunks * 8 * lanes;
  for (let r = 0; r < n; r++) {
    const base = Math.floor(r / lanes) * blockValues + (r % lanes) * 8;
    const ro = r * dims;
    let s = 0;
    if (group === 1) {
      for (let i = 0; i < dims; i++) {
        const v = src[ro + i];
        out[base + (i >> 3) * 8 * lanes + (i & 7)] = v;
        s += v * v;
      }
    } else {
      const values = Math.ceil(dims / group);
      for (let j = 0; j < values; j++) {
        let v = 0;
        const end = Math.min(dims, (j + 1) * group);
        for (let i = j * group; i < end; i++) v += src[ro + i];
        out[base + (j >> 3) * 8 * lanes + (j & 7)] = v;
        s += v * v;
      }
    }
    norms[r] = s;
  }
}

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
  checkBoolean(WHERE, 'prune', o.prune);
  checkNumber(WHERE, 'pruneGroup', o.pruneGroup, { integer: true, min: 2, max: 64 });
  if (o.trainBlockRows % 4 !== 0) {
    throw badOption(
      `${WHERE}: option 'trainBlockRows' must be a multiple of 4, received ${o.trainBlockRows}`,
    );
  }
  const mod = o.simd ? kernelModule(knnU8) : null;
  return mod == null ? new JsKnnKernel() : new WasmKnnKernel(mod, o);
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

/** Checks a search's arguments (shared with the thread pool); returns the number of query rows. */
export function checkSearch(queries: unknown, k: unknown, dims: number, rows: number): number {
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

/**
 * One prepared kernel call over a block of query pairs: the export's arguments with the training-quad range
 * left at 0, 0. `pairStride` gives, for the pointer arguments that advance per query pair (in order: query
 * data, query norms, coarse data, coarse norms, lists), the bytes per pair. Plain data, so that a worker
 * thread can run a range of pairs with {@link runKernelCall}.
 */
export interface KernelCall {
  pruned: boolean;
  args: number[];
  pairs: number;
  pairStride: number[];
  quads: number;
  step: number;
  lists: number;
}

/**
 * Runs query pairs [pair0, pair1) of a prepared call through every training block, in index order.
 * Kept free of closures: src/knn/wasm-kernel-node.ts ships its source text to worker threads.
 */
export function runKernelCall(fns: KnnExports, call: KernelCall, pair0: number, pair1: number): void {
  const a = call.args.slice();
  const st = call.pairStride;
  if (call.pruned) {
    a[0] += pair0 * st[0];
    a[1] += pair0 * st[1];
    a[2] += pair0 * st[2];
    a[3] += pair0 * st[3];
    a[4] = pair1 - pair0;
    a[15] += pair0 * st[4];
  } else {
    a[0] += pair0 * st[0];
    a[1] += pair0 * st[1];
    a[2] = pair1 - pair0;
    a[9] += pair0 * st[4];
  }
  const lo = call.pruned ? 9 : 5;
  for (let q0 = 0; q0 < call.quads; q0 += call.step) {
    a[lo] = q0;
    a[lo + 1] = Math.min(call.quads, q0 + call.step);
    if (call.pruned) fns.searchPruned(...a);
    else fns.search(...a);
  }
}

/** Where one matrix lives in the kernel's memory (byte offsets). */
interface Region {
  data: number;
  norms: number;
  chunks: number;
}

export class WasmKnnKernel implements KnnKernel {
  readonly simd = true;
  rows = 0;
  dims = 0;
  private memory: WebAssembly.Memory | null;
  private readonly fns: KnnExports;
  private quads = 0;
  /** Pixels per coarse value of the pruning bound; 0 when not pruning. */
  private group = 0;
  private full: Region = { data: 0, norms: 0, chunks: 0 };
  private coarse: Region = { data: 0, norms: 0, chunks: 0 };
  /** First free byte after the training data: query blocks go here. */
  scratch = 0;

  constructor(
    mod: WebAssembly.Module,
    private readonly o: Readonly<Required<KnnKernelOptions>>,
    memory?: WebAssembly.Memory,
  ) {
    this.memory = memory ?? new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES });
    const instance = new WebAssembly.Instance(mod, { env: { memory: this.memory } });
    this.fns = instance.exports as unknown as KnnExports;
  }

  live(where: string): WebAssembly.Memory {
    if (this.memory === null) {
      throw new FashionMnistError('DISPOSED', `KnnKernel.${where}: the kernel was disposed`);
    }
    return this.memory;
  }

  /** Grows the memory to at least `bytes`; TOO_LARGE when the engine refuses. */
  ensure(memory: WebAssembly.Memory, bytes: number, where: string): void {
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
    const quads = Math.ceil(n / 4);
    // the bound's values must stay exact int32: dims · 255² · group < 2^31
    let group = this.o.prune ? this.o.pruneGroup : 0;
    while (group >= 2 && dims * 255 * 255 * group >= 0x7fffffff) group >>= 1;
    if (group < 2 || dims < 2 * group) group = 0;
    const chunks = Math.ceil(dims / 8);
    const cchunks = group === 0 ? 0 : Math.ceil(Math.ceil(dims / group) / 8);
    const full: Region = { data: 64, norms: 64 + quads * chunks * 64, chunks };
    const coarse: Region = { data: full.norms + quads * 16, norms: 0, chunks: cchunks };
    coarse.norms = coarse.data + quads * cchunks * 64;
    const end = coarse.norms + (group === 0 ? 0 : quads * 16);
    this.ensure(memory, end, 'setTrain');
    new Uint8Array(memory.buffer, 64, end - 64).fill(0);
    const buf = memory.buffer;
    interleave(
      rows,
      n,
      dims,
      1,
      4,
      chunks,
      new Int16Array(buf, full.data, quads * chunks * 32),
      new Int32Array(buf, full.norms, quads * 4),
    );
    if (group !== 0) {
      interleave(
        rows,
        n,
        dims,
        group,
        4,
        cchunks,
        new Int16Array(buf, coarse.data, quads * cchunks * 32),
        new Int32Array(buf, coarse.norms, quads * 4),
      );
    }
    this.rows = n;
    this.dims = dims;
    this.quads = quads;
    this.group = group;
    this.full = full;
    this.coarse = coarse;
    this.scratch = end;
  }

  /** Bytes of scratch one query block of `block` rows (even) needs for `k` neighbours. */
  blockBytes(block: number, k: number): number {
    return (block / 2) * (this.full.chunks + this.coarse.chunks) * 32 + block * 8 + block * k * 8;
  }

  /**
   * Lays out query rows `rows` (m × dims) at `at` (see {@link blockBytes}) and resets their lists; returns the
   * kernel's arguments for all of them (pair range [0, ceil(m / 2))).
   */
  prepare(rows: Uint8Array, m: number, k: number, at: number): KernelCall {
    const memory = this.live('search');
    const { dims, full, coarse, group } = this;
    const pairs = (m + 1) >> 1;
    const block = pairs * 2;
    const q: Region = { data: at, norms: at + pairs * full.chunks * 32, chunks: full.chunks };
    const qc: Region = { data: q.norms + block * 4, norms: 0, chunks: coarse.chunks };
    qc.norms = qc.data + pairs * coarse.chunks * 32;
    const lists = qc.norms + block * 4;
    const buf = memory.buffer;
    const qData = new Int16Array(buf, q.data, pairs * full.chunks * 16);
    const qNorms = new Int32Array(buf, q.norms, block);
    qData.fill(0);
    qNorms.fill(0);
    interleave(rows, m, dims, 1, 2, full.chunks, qData, qNorms);
    if (group !== 0) {
      const qcData = new Int16Array(buf, qc.data, pairs * coarse.chunks * 16);
      const qcNorms = new Int32Array(buf, qc.norms, block);
      qcData.fill(0);
      qcNorms.fill(0);
      interleave(rows, m, dims, group, 2, coarse.chunks, qcData, qcNorms);
    }
    const l = new Int32Array(buf, lists, block * k * 2);
    for (let e = 0; e < block * k; e++) {
      l[2 * e] = EMPTY_DIST;
      l[2 * e + 1] = -1;
    }
    const args =
      group === 0
        ? [q.data, q.norms, pairs, full.data, full.norms, 0, 0, this.rows, full.chunks, lists, k]
        : [
            q.data,
            q.norms,
            qc.data,
            qc.norms,
            pairs,
            full.data,
            full.norms,
            coarse.data,
            coarse.norms,
            0,
            0,
            this.rows,
            full.chunks,
            coarse.chunks,
            group,
            lists,
            k,
          ];
    return {
      pruned: group !== 0,
      args,
      pairs,
      pairStride: [full.chunks * 32, 8, coarse.chunks * 32, 8, k * 16],
      quads: this.quads,
      step: this.o.trainBlockRows / 4,
      lists,
    };
  }

  /** Copies the lists of rows [0, m) of a prepared block into the result arrays at row `start`. */
  collect(call: KernelCall, m: number, k: number, start: number, out: KnnKernelResult): void {
    const l = new Int32Array(this.live('search').buffer, call.lists, m * k * 2);
    for (let e = 0; e < m * k; e++) {
      out.distances[start * k + e] = l[2 * e];
      out.indices[start * k + e] = l[2 * e + 1];
    }
  }

  search(queries: Uint8Array, k: number): KnnKernelResult {
    this.live('search');
    const n = checkSearch(queries, k, this.dims, this.rows);
    const out: KnnKernelResult = {
      indices: new Int32Array(n * k),
      distances: new Int32Array(n * k),
      rows: n,
      k,
    };
    if (n === 0) return out;
    const qb = this.o.queryBlockRows;
    const block = Math.min(qb + (qb & 1), n + (n & 1));
    this.ensure(this.live('search'), this.scratch + this.blockBytes(block, k), 'search');
    for (let start = 0; start < n; start += block) {
      const m = Math.min(block, n - start);
      const call = this.prepare(
        queries.subarray(start * this.dims, (start + m) * this.dims),
        m,
        k,
        this.scratch,
      );
      runKernelCall(this.fns, call, 0, call.pairs);
      this.collect(call, m, k, start, out);
    }
    return out;
  }

  dispose(): void {
    this.memory = null;
    this.rows = 0;
  }
}
