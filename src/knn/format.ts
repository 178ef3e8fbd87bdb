// The saved form of a fitted k-NN classifier: a compact, versioned, checksummed byte layout that is the same in
// every environment (Node files, IndexedDB, fetch). The training matrix keeps its own element type, so uint8
// pixels stay one byte each (the full Fashion-MNIST classifier is 47 MB).
//
// Layout, little-endian:
//   0   8 bytes  magic "FMNISTKN"
//   8   u16      format version (1)
//   10  u16      0 (reserved)
//   12  u32      header length H (bytes of UTF-8 JSON)
//   16  H bytes  header JSON: { k, metric, weights, ties, rows, dims, dtype, classes }
//   …   padding with zeros to a multiple of 8
//   …   rows·dims elements of `dtype` (the training matrix, row-major)
//   …   rows u32: each row's class index into `classes`
//   end u32      CRC-32 (IEEE) of every byte before it
import { FashionMnistError } from '../errors.js';

const MAGIC = 'FMNISTKN';
/** The format version this library writes; it reads this one only (a newer file is a clear error). */
export const KNN_FORMAT_VERSION = 1;
/** Largest header accepted when reading, so that a hostile file cannot make the parser allocate much. */
const MAX_HEADER_BYTES = 4 << 20;
/** Most distinct classes a saved classifier may hold (the same bound as `fit`). */
export const MAX_CLASSES = 65_536;

/** Element types of a saved training matrix. */
export type KnnMatrixDtype = 'uint8' | 'float32';

/** Everything a fitted classifier needs to predict again, as plain data. */
export interface KnnState {
  k: number;
  metric: 'euclidean' | 'cosine';
  weights: 'uniform' | 'distance';
  /** Tie rule of the votes (absent in the header reads as `'nearest'`). */
  ties?: 'nearest' | 'lowest';
  rows: number;
  dims: number;
  /** The training matrix, row-major `rows × dims`. */
  features: Uint8Array | Float32Array;
  /** Each row's index into `classes`. */
  classIndex: Uint32Array;
  /** The labels as the user gave them, in class-index order (numbers or strings). */
  classes: readonly (number | string)[];
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3), the checksum of zip and PNG. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (crcTable === null) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const pad8 = (n: number) => (n + 7) & ~7;

/** Encodes a fitted classifier's state. */
export function encodeKnnState(state: KnnState): Uint8Array<ArrayBuffer> {
  const dtype: KnnMatrixDtype = state.features instanceof Uint8Array ? 'uint8' : 'float32';
  const header = new TextEncoder().encode(
    JSON.stringify({
      k: state.k,
      metric: state.metric,
      weights: state.weights,
      ties: state.ties ?? 'nearest',
      rows: state.rows,
      dims: state.dims,
      dtype,
      classes: state.classes,
    }),
  );
  const matrixAt = pad8(16 + header.length);
  const matrixBytes = state.features.byteLength;
  const labelsAt = pad8(matrixAt + matrixBytes);
  const total = labelsAt + state.rows * 4 + 4;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC.charCodeAt(i);
  view.setUint16(8, KNN_FORMAT_VERSION, true);
  view.setUint32(12, header.length, true);
  out.set(header, 16);
  out.set(
    new Uint8Array(state.features.buffer, state.features.byteOffset, state.features.byteLength),
    matrixAt,
  );
  for (let i = 0; i < state.rows; i++) view.setUint32(labelsAt + 4 * i, state.classIndex[i]!, true);
  view.setUint32(total - 4, crc32(out.subarray(0, total - 4)), true);
  return out;
}

function bad(message: string, name: string): FashionMnistError {
  return new FashionMnistError('BAD_FILE', `${name}: ${message}`, { path: name });
}

/**
 * Decodes bytes written by {@link encodeKnnState}. Everything is checked before anything large is allocated:
 * magic, version, header size and fields, the exact total length implied by the header, the checksum, and
 * every class index. Damaged, truncated or foreign bytes are a FashionMnistError `BAD_FILE`.
 */
export function decodeKnnState(bytes: Uint8Array, name = 'k-NN classifier'): KnnState {
  if (!(bytes instanceof Uint8Array)) {
    throw new FashionMnistError('BAD_INPUT', `${name}: expected a Uint8Array of saved classifier bytes`);
  }
  if (bytes.length < 20) throw bad(`${bytes.length} bytes is too short to be a saved k-NN classifier`, name);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC.charCodeAt(i)) {
      throw bad('not a saved k-NN classifier of fashion-mnist-tfjs (wrong magic bytes)', name);
    }
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(8, true);
  if (version !== KNN_FORMAT_VERSION) {
    throw bad(
      `format version ${version}, but this library reads version ${KNN_FORMAT_VERSION}; ` +
        'save it again with the same version of fashion-mnist-tfjs',
      name,
    );
  }
  const headerLength = view.getUint32(12, true);
  if (headerLength > MAX_HEADER_BYTES || 16 + headerLength > bytes.length) {
    throw bad(`header of ${headerLength} bytes does not fit the file (truncated or damaged)`, name);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + headerLength)),
    );
  } catch (e) {
    throw new FashionMnistError('BAD_FILE', `${name}: the header is not valid JSON (damaged file)`, {
      path: name,
      cause: e,
    });
  }
  const { k, metric, weights, ties = 'nearest', rows, dims, dtype, classes } = header ?? {};
  const isCount = (v: unknown, min: number) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= 2 ** 31 - 1;
  if (!isCount(k, 1) || !isCount(rows, 1) || !isCount(dims, 1)) {
    throw bad('the header has no valid k, rows and dims', name);
  }
  if (metric !== 'euclidean' && metric !== 'cosine')
    throw bad(`unknown metric ${JSON.stringify(metric)}`, name);
  if (weights !== 'uniform' && weights !== 'distance')
    throw bad(`unknown weights ${JSON.stringify(weights)}`, name);
  if (ties !== 'nearest' && ties !== 'lowest') throw bad(`unknown ties ${JSON.stringify(ties)}`, name);
  if (dtype !== 'uint8' && dtype !== 'float32')
    throw bad(`unknown matrix dtype ${JSON.stringify(dtype)}`, name);
  if (
    !Array.isArray(classes) ||
    classes.length === 0 ||
    classes.length > MAX_CLASSES ||
    !(
      classes.every((c) => typeof c === 'string') ||
      classes.every((c) => typeof c === 'number' && Number.isInteger(c) && c >= -(2 ** 31) && c < 2 ** 31)
    ) ||
    new Set(classes).size !== classes.length
  ) {
    throw bad(
      'the header has no valid class list (distinct int32 numbers or strings, all of one kind)',
      name,
    );
  }
  const r = rows as number;
  const d = dims as number;
  const matrixAt = pad8(16 + headerLength);
  const matrixBytes = r * d * (dtype === 'uint8' ? 1 : 4);
  const labelsAt = pad8(matrixAt + matrixBytes);
  const total = labelsAt + r * 4 + 4;
  if (bytes.length !== total) {
    throw bad(
      `${bytes.length} bytes, but a ${r} × ${d} ${dtype} classifier takes ${total} (truncated or damaged)`,
      name,
    );
  }
  const expected = view.getUint32(total - 4, true);
  const actual = crc32(bytes.subarray(0, total - 4));
  if (expected !== actual) throw bad('checksum mismatch (the file is damaged)', name);
  // A private copy in a buffer of its own: `bytes` may be a Node Buffer, whose slice() is a view into a shared
  // pool (the classifier would change with it, and `.buffer` would be the whole pool).
  const copy = new Uint8Array(matrixBytes);
  copy.set(bytes.subarray(matrixAt, matrixAt + matrixBytes));
  const features = dtype === 'uint8' ? copy : new Float32Array(copy.buffer);
  if (features instanceof Float32Array && !features.every(Number.isFinite)) {
    throw bad('the training matrix holds NaN or infinite values', name);
  }
  const classIndex = new Uint32Array(r);
  for (let i = 0; i < r; i++) {
    const c = view.getUint32(labelsAt + 4 * i, true);
    if (c >= classes.length) throw bad(`row ${i} has class index ${c} of ${classes.length} classes`, name);
    classIndex[i] = c;
  }
  return {
    k: k as number,
    metric,
    weights,
    ties,
    rows: r,
    dims: d,
    features,
    classIndex,
    classes: Object.freeze([...(classes as (number | string)[])]),
  };
}
