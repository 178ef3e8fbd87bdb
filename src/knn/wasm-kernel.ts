// Exact k-NN search for uint8 pixels (squared Euclidean distance, integer arithmetic) with the WebAssembly
// SIMD kernel of src/kernels/knn_u8.wat, and a plain JS path with the same results where SIMD is missing.
//
// Pruning (exact): by Cauchy–Schwarz, sums over groups of G pixels give a lower bound of G · distance. The
// kernel computes the coarse bound (G = 16) for 2 queries × 4 training rows at a time, tries a finer one
// (G = 4) on the few rows it keeps, and computes the exact distance only for those still in the running.
// With `imageShape` the groups are square patches (4×4, 2×2), which prune far more than runs of a row. All
// in integers, so the neighbours and distances are exactly those of a brute-force search.
//
// Memory stays bounded: the training rows are stored once per level, as i16 in the kernel's memory (about
// 130 MB for 60,000 × 784 with both bounds), and queries go through in blocks of `queryBlockRows`; no
// query × train matrix is ever formed. The training rows are streamed in blocks of `trainBlockRows`, in index
// order, so that a block stays in cache while every query pair of the current block meets it.
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
  /** Pixels summed per group by the first, vectorised bound (default 16; 2 to 64; lowered when dims is large). */
  pruneGroup?: number;
  /**
   * Pixels per group of a finer bound tried on the rows the first one keeps, before the exact distance
   * (default 4; 0 for none; 2 to 64, below `pruneGroup`).
   */
  refineGroup?: number;
  /**
   * The rows are images of `[height, width]` (row-major): the pruning bounds then use square patches, which
   * prune far more (default null: groups of consecutive pixels). Same results either way.
   */
  imageShape?: readonly [number, number] | null;
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

const DEFAULTS: Readonly<Required<KnnKernelOptions>> = Object.freeze<Required<KnnKernelOptions>>({
  simd: true,
  queryBlockRows: 256,
  trainBlockRows: 128,
  prune: true,
  pruneGroup: 16,
  refineGroup: 4,
  imageShape: null,
});

/** The kernel module's exports (src/kernels/knn_u8.wat). */
export interface KnnExports {
  search(...args: number[]): void;
  searchPruned(...args: number[]): void;
  setMiddle(...args: number[]): void;
}

/**
 * Interleaves `rows` (n × dims uint8) as i16 in groups of `lanes` rows (see src/kernels/knn_u8.wat), pixel
 * `order[i]` in place i (−1: a zero; null: pixel i), with sums of `group` consecutive places per value;
 * writes the norms.
 */
function interleave(
  src: Uint8Array,
  n: number,
  dims: number,
  order: Int32Array | null,
  group: number,
  lanes: number,
  chunks: number,
  out: Int16Array,
  norms: Int32Array,
): void {
  const blockValues = chunks * 8 * lanes;
  const places = order === null ? dims : order.length;
  const values = Math.ceil(places / group);
  for (let r = 0; r < n; r++) {
    const base = Math.floor(r / lanes) * blockValues + (r % lanes) * 8;
    const ro = r * dims;
    let s = 0;
    if (order === null && group === 1) {
      // raw pixels in their own order (the exact distance does not depend on the order)
      for (let i = 0; i < dims; i++) {
        const v = src[ro + i];
        out[base + (i >> 3) * 8 * lanes + (i & 7)] = v;
        s += v * v;
      }
      norms[r] = s;
      continue;
    }
    for (let j = 0; j < values; j++) {
      let v = 0;
      const end = Math.min(places, (j + 1) * group);
      for (let i = j * group; i < end; i++) {
        const at = order === null ? i : order[i];
        if (at >= 0) v += src[ro + at];
      }
      out[base + (j >> 3) * 8 * lanes + (j & 7)] = v;
      s += v * v;
    }
    norms[r] = s;
  }
}

/**
 * The order of places: null for the pixels' own order, or for an image (`height × width`, row-major) 4×4 tiles in row-major
 * order, each as its four 2×2 blocks, so that groups of 4 and of 16 consecutive places are square patches
 * (a much tighter bound than runs along a row). Places outside the image are −1 (zeros).
 */
function placeOrder(shape: readonly [number, number] | null): Int32Array | null {
  if (shape === null) return null;
  const [h, w] = shape;
  const th = Math.ceil(h / 4);
  const tw = Math.ceil(w / 4);
  const order = new Int32Array(th * tw * 16);
  let p = 0;
  for (let ty = 0; ty < th; ty++) {
    for (let tx = 0; tx < tw; tx++) {
      for (let b = 0; b < 4; b++) {
        for (let q = 0; q < 4; q++) {
          const y = ty * 4 + (b >> 1) * 2 + (q >> 1);
          const x = tx * 4 + (b & 1) * 2 + (q & 1);
          order[p++] = y < h && x < w ? y * w + x : -1;
        }
      }
    }
  }
  return order;
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
  checkNumber(WHERE, 'refineGroup', o.refineGroup, { integer: true, min: 0, max: 64 });
  if (o.imageShape !== null) {
    const shape: unknown = o.imageShape;
    const ok =
      Array.isArray(shape) &&
      shape.length === 2 &&
      shape.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 1);
    if (!ok) {
      throw badOption(
        `${WHERE}: option 'imageShape' must be [height, width] (positive integers) or null, received ${show(shape)}`,
      );
    }
  }
  if (o.refineGroup === 1)
    throw badOption(`${WHERE}: option 'refineGroup' must be 0 or from 2 to 64, received 1`);
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
 * left at 0, 0, and the middle level's (`setMiddle`) when there is one. `shift` lists, for the arguments
 * that point at per-pair data, [argument index, bytes per pair]. Plain data, so that a worker thread can run
 * a range of pairs with {@link runKernelCall}.
 */
export interface KernelCall {
  pruned: boolean;
  args: number[];
  shift: number[][];
  middle: number[];
  middleShift: number[][];
  pairs: number;
  quads: number;
  step: number;
  lists: number;
}

/**
 * Runs query pairs [pair0, pair1) of a prepared call through every training block, in index order.
 * Kept free of closures and imports: src/knn/wasm-kernel-node.ts ships its source text to worker threads.
 */
export function runKernelCall(fns: KnnExports, call: KernelCall, pair0: number, pair1: number): void {
  const a = call.args.slice();
  for (const [at, stride] of call.shift) a[at] += pair0 * stride;
  const mid = call.middle.slice();
  for (const [at, stride] of call.middleShift) mid[at] += pair0 * stride;
  const lo = call.pruned ? 9 : 5;
  a[call.pruned ? 4 : 2] = pair1 - pair0;
  if (call.pruned) fns.setMiddle(...mid);
  for (let q0 = 0; q0 < call.quads; q0 += call.step) {
    a[lo] = q0;
    a[lo + 1] = Math.min(call.quads, q0 + call.step);
    if (call.pruned) fns.searchPruned(...a);
    else fns.search(...a);
  }
}

/** One representation of the rows in the kernel's memory: pixels summed in groups of `group` (1: raw). */
interface Level {
  group: number;
  chunks: number;
  /** Byte offsets of the training data and norms. */
  data: number;
  norms: number;
}

/** The group sizes in use, [raw, coarse, middle]; 0 for a level not used (exactness: dims · 255² · g < 2^31). */
function groupsFor(places: number, o: Readonly<Required<KnnKernelOptions>>): [number, number, number] {
  const dims = places;
  const usable = (g: number) => {
    let v = g;
    while (v >= 2 && dims * 255 * 255 * v >= 0x7fffffff) v >>= 1;
    return v >= 2 && dims >= 2 * v ? v : 0;
  };
  if (!o.prune) return [1, 0, 0];
  const coarse = usable(o.pruneGroup);
  if (coarse === 0) return [1, 0, 0];
  const middle = o.refineGroup === 0 ? 0 : usable(Math.min(o.refineGroup, coarse));
  return [1, coarse, middle === coarse ? 0 : middle];
}

export class WasmKnnKernel implements KnnKernel {
  readonly simd = true;
  rows = 0;
  dims = 0;
  private memory: WebAssembly.Memory | null;
  private readonly fns: KnnExports;
  private quads = 0;
  /** Raw, coarse and middle levels (group 0: not used). */
  private levels: Level[] = [];
  /** Place order of the pixels (see placeOrder). */
  private order: Int32Array | null = null;
  /** First free byte after the training data: query blocks go here. */
  scratch = 0;
  /** End of the bytes written so far (setTrain's rows, prepare's query blocks); zeros beyond. */
  private used = 0;

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
      if (need > MAX_PAGES) throw `${need} pages of 64 KiB, more than ${MAX_PAGES}`;
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
    const shape = this.o.imageShape;
    if (shape !== null && shape[0] * shape[1] !== dims) {
      throw new FashionMnistError(
        'BAD_SHAPE',
        `KnnKernel.setTrain: imageShape ${shape[0]} × ${shape[1]} does not match dims = ${dims}`,
      );
    }
    const order = placeOrder(this.o.prune ? shape : null);
    const places = order === null ? dims : order.length;
    const quads = Math.ceil(n / 4);
    const levels: Level[] = [];
    let at = 64;
    const groups = groupsFor(places, this.o);
    const pruned = groups[1] !== 0;
    for (const group of groups) {
      // the pruned kernel's single-row products take two chunks at a time: round up to even
      const values = Math.ceil((group === 1 ? dims : places) / group);
      const chunks =
        group === 0 ? 0 : levels.length === 0 && !pruned ? Math.ceil(values / 8) : 2 * Math.ceil(values / 16);
      const level: Level = { group, chunks, data: at, norms: at + quads * chunks * 64 };
      at = level.norms + (group === 0 ? 0 : quads * 16);
      levels.push(level);
    }
    this.ensure(memory, at, 'setTrain');
    const buf = memory.buffer;
    // Bytes never written are still the zeros of a fresh memory: clear only what earlier calls wrote.
    new Uint8Array(buf, 64, Math.max(0, Math.min(at, this.used) - 64)).fill(0);
    this.used = Math.max(this.used, at);
    for (const l of levels) {
      if (l.group === 0) continue;
      const data = new Int16Array(buf, l.data, quads * l.chunks * 32);
      const o = l.group === 1 ? null : order;
      interleave(rows, n, dims, o, l.group, 4, l.chunks, data, new Int32Array(buf, l.norms, quads * 4));
    }
    this.rows = n;
    this.dims = dims;
    this.quads = quads;
    this.levels = levels;
    this.order = order;
    this.scratch = at;
  }

  /** Bytes of scratch one query block of `block` rows (even) needs for `k` neighbours. */
  blockBytes(block: number, k: number): number {
    let bytes = block * k * 8;
    for (const l of this.levels) if (l.group !== 0) bytes += (block / 2) * l.chunks * 32 + block * 4;
    return bytes;
  }

  /**
   * Lays out query rows `rows` (m × dims) at `at` (see {@link blockBytes}) and resets their lists; returns the
   * kernel's arguments for all of them (pair range [0, ceil(m / 2))).
   */
  prepare(rows: Uint8Array, m: number, k: number, at: number): KernelCall {
    const buf = this.live('search').buffer;
    const pairs = (m + 1) >> 1;
    const block = pairs * 2;
    // per level: [query data, query norms]
    const q: number[][] = [];
    let p = at;
    for (const l of this.levels) {
      if (l.group === 0) {
        q.push([0, 0]);
        continue;
      }
      const data = new Int16Array(buf, p, pairs * l.chunks * 16);
      const norms = new Int32Array(buf, p + pairs * l.chunks * 32, block);
      data.fill(0);
      norms.fill(0);
      interleave(rows, m, this.dims, l.group === 1 ? null : this.order, l.group, 2, l.chunks, data, norms);
      q.push([p, norms.byteOffset]);
      p = norms.byteOffset + block * 4;
    }
    const lists = p;
    const l32 = new Int32Array(buf, lists, block * k * 2);
    this.used = Math.max(this.used, lists + block * k * 8);
    for (let e = 0; e < block * k; e++) {
      l32[2 * e] = EMPTY_DIST;
      l32[2 * e + 1] = -1;
    }
    const [raw, coarse, middle] = this.levels;
    const common = { pairs, quads: this.quads, step: this.o.trainBlockRows / 4, lists };
    if (coarse.group === 0) {
      return {
        ...common,
        pruned: false,
        args: [q[0][0], q[0][1], pairs, raw.data, raw.norms, 0, 0, this.rows, raw.chunks, lists, k],
        shift: [
          [0, raw.chunks * 32],
          [1, 8],
          [9, k * 16],
        ],
        middle: [],
        middleShift: [],
      };
    }
    return {
      ...common,
      pruned: true,
      args: [
        q[0][0],
        q[0][1],
        q[1][0],
        q[1][1],
        pairs,
        raw.data,
        raw.norms,
        coarse.data,
        coarse.norms,
        0,
        0,
        this.rows,
        raw.chunks,
        coarse.chunks,
        coarse.group,
        lists,
        k,
      ],
      shift: [
        [0, raw.chunks * 32],
        [1, 8],
        [2, coarse.chunks * 32],
        [3, 8],
        [15, k * 16],
      ],
      middle:
        middle.group === 0
          ? [0, 0, 0, 0, 0, 0]
          : [middle.group, middle.chunks, q[2][0], q[2][1], middle.data, middle.norms],
      middleShift:
        middle.group === 0
          ? []
          : [
              [2, middle.chunks * 32],
              [3, 8],
            ],
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
