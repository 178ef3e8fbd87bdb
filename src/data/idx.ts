import { FashionMnistError } from '../errors.js';
import { concatBytes } from '../internal/bytes.js';
import { badOption, checkNumber, mergeOptions, show } from '../internal/validate.js';

/**
 * Data types an IDX file can hold, by the name used in {@link IdxArray.dtype}.
 * @example
 * ```ts
 * const dtype: IdxDtype = 'int16';
 * const bytes = encodeIdx({ dtype, shape: [2], data: Int16Array.from([-1, 300]) });
 * ```
 */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/**
 * The typed array that holds each IDX data type.
 * @example
 * ```ts
 * const values: IdxDataMap['float32'] = new Float32Array(4);
 * ```
 */
export interface IdxDataMap {
  uint8: Uint8Array;
  int8: Int8Array;
  int16: Int16Array;
  int32: Int32Array;
  float32: Float32Array;
  float64: Float64Array;
}

/**
 * A decoded IDX file: its element type, dimensions and values (row-major, in platform byte order).
 * @example
 * ```ts
 * const idx: IdxArray = await parseIdx(bytes);
 * if (idx.dtype === 'uint8') console.log(idx.shape, idx.data[0]);
 * ```
 */
export interface IdxArray<D extends IdxDtype = IdxDtype> {
  dtype: D;
  shape: number[];
  data: IdxDataMap[D];
}

const CODES: Readonly<Record<number, { dtype: IdxDtype; size: number }>> = Object.freeze({
  8: { dtype: 'uint8', size: 1 },
  9: { dtype: 'int8', size: 1 },
  11: { dtype: 'int16', size: 2 },
  12: { dtype: 'int32', size: 4 },
  13: { dtype: 'float32', size: 4 },
  14: { dtype: 'float64', size: 8 },
});

const DTYPE_CODE: Readonly<Record<IdxDtype, number>> = Object.freeze({
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
});

/**
 * The largest decoded (uncompressed) IDX file {@link parseIdx} accepts by default: 268,435,456 bytes (256 MiB),
 * five times the largest Fashion-MNIST file. Raise it with the `maxBytes` option for bigger data sets. Internal:
 * the default is documented on the option.
 */
export const PARSE_IDX_MAX_BYTES = 256 * 1024 * 1024;

/**
 * Options of {@link parseIdx}.
 * @example
 * ```ts
 * const idx = await parseIdx(bytes, { name: 'emnist-train.gz', maxBytes: 1024 ** 3 } satisfies ParseIdxOptions);
 * ```
 */
export interface ParseIdxOptions {
  /** Used in error messages and as the error's `path` (a file name or URL); default `'input'`. */
  name?: string;
  /**
   * Largest decoded IDX file accepted, in bytes (header included): an integer ≥ 0, default 268,435,456
   * (256 MiB, five times the largest Fashion-MNIST file). A header that declares more, or gzip data that
   * inflates to more, is a `FashionMnistError` `TOO_LARGE`; inflating stops there, so memory stays bounded by
   * this limit.
   */
  maxBytes?: number;
}

/**
 * True when `bytes` start with the gzip magic number (1f 8b).
 * @example
 * ```ts
 * const raw = isGzip(bytes) ? await gunzip(bytes) : bytes;
 * ```
 */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * The inflated chunks of gzip data, read one by one from the platform's `DecompressionStream` (browsers,
 * Node ≥ 18, Deno, Bun). Leaving the loop early cancels the stream, so no more is inflated than was read.
 */
async function* inflateChunks(bytes: Uint8Array, name: string): AsyncGenerator<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') {
    throw new FashionMnistError(
      'UNSUPPORTED',
      `${name}: this platform has no DecompressionStream to inflate gzip data; decompress the file first`,
      { path: name },
    );
  }
  const reader = new Blob([bytes as Uint8Array<ArrayBuffer>])
    .stream()
    .pipeThrough(new DecompressionStream('gzip'))
    .getReader();
  let finished = false;
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (cause) {
        finished = true;
        throw new FashionMnistError(
          'BAD_GZIP',
          `${name}: truncated or corrupt gzip data (${String(cause)})`,
          {
            path: name,
            cause,
          },
        );
      }
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) reader.cancel().catch(() => {});
  }
}

function tooLargeInflated(name: string, maxBytes: number, why: string): FashionMnistError {
  return new FashionMnistError(
    'TOO_LARGE',
    `${name}: the gzip data inflates to more than ${maxBytes} bytes, ${why}; stopped inflating`,
    { path: name },
  );
}

/**
 * Inflates gzip data chunk by chunk with the platform's `DecompressionStream`, stopping with a
 * `FashionMnistError` `TOO_LARGE` as soon as the output passes `maxBytes`. Truncated or corrupt input is
 * `BAD_GZIP`.
 *
 * @example
 * ```ts
 * const raw = await gunzip(bytes, 'train-images-idx3-ubyte.gz', 47_040_016);
 * ```
 */
export async function gunzip(
  bytes: Uint8Array,
  name = 'input',
  maxBytes = PARSE_IDX_MAX_BYTES,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of inflateChunks(bytes, name)) {
    total += chunk.length;
    if (total > maxBytes) throw tooLargeInflated(name, maxBytes, 'the most allowed for it');
    chunks.push(chunk);
  }
  return concatBytes(chunks);
}

/** What an IDX header says: element type, dimensions and the file's total length. */
interface IdxHeader {
  dtype: IdxDtype;
  size: number;
  shape: number[];
  count: number;
  headerBytes: number;
  /** Header plus values, in bytes; may exceed 2^53 for absurd headers (then it is only compared, never used). */
  totalBytes: number;
}

/**
 * Reads the header at the start of an IDX file. Returns undefined while `bytes` is too short to hold it and
 * more may come (`complete` false); throws BAD_MAGIC / BAD_DTYPE / BAD_SHAPE as soon as the bytes are wrong.
 */
function readHeader(bytes: Uint8Array, name: string, complete: boolean): IdxHeader | undefined {
  if (bytes.length < 4 && !complete && (bytes.length < 2 || (bytes[0] === 0 && bytes[1] === 0))) {
    return undefined;
  }
  if (bytes.length < 4 || bytes[0] !== 0 || bytes[1] !== 0) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
    throw new FashionMnistError(
      'BAD_MAGIC',
      `${name}: not an IDX file: it starts with [${head}], an IDX file starts with 00 00 <type> <rank>`,
      { path: name },
    );
  }
  const code = bytes[2];
  const spec = CODES[code];
  if (!spec) {
    throw new FashionMnistError(
      'BAD_DTYPE',
      `${name}: unknown IDX data type 0x${code.toString(16).padStart(2, '0')}; known types are ` +
        Object.entries(CODES)
          .map(([c, s]) => `0x${Number(c).toString(16).padStart(2, '0')} (${s.dtype})`)
          .join(', '),
      { path: name },
    );
  }
  const rank = bytes[3];
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    if (!complete) return undefined;
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${name}: the header declares ${rank} dimensions (${headerBytes} header bytes) but the file has only ${bytes.length} bytes`,
      { path: name },
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    shape.push(d);
    count *= d;
  }
  return {
    dtype: spec.dtype,
    size: spec.size,
    shape,
    count,
    headerBytes,
    totalBytes: headerBytes + count * spec.size,
  };
}

function describeHeader(h: IdxHeader): string {
  return `${h.dtype}[${h.shape.join(', ')}] = ${h.totalBytes} bytes in all`;
}

function tooLargeDeclared(name: string, h: IdxHeader, maxBytes: number): FashionMnistError {
  return new FashionMnistError(
    'TOO_LARGE',
    `${name}: the header says ${describeHeader(h)}, more than maxBytes (${maxBytes}); raise the option ` +
      `'maxBytes' if the file is genuine`,
    { path: name },
  );
}

/**
 * Decodes an uncompressed IDX file. Synchronous; use {@link parseIdx} when the bytes may be gzip-compressed.
 * The values are always a fresh copy (never a view on `bytes`).
 *
 * @param name - Used in error messages (a file name or URL).
 * @param maxBytes - Largest file accepted (default: no limit; the bytes are already in memory).
 * @example
 * ```ts
 * const { shape, data } = parseIdxBytes(rawBytes); // shape [60000, 28, 28]
 * ```
 */
export function parseIdxBytes(
  bytes: Uint8Array,
  name = 'input',
  maxBytes = Number.POSITIVE_INFINITY,
): IdxArray {
  return decodeOwned(bytes, name, maxBytes, false);
}

/** Decodes IDX bytes; with `owned`, a uint8 result may be a view on `bytes` (which the caller gives up). */
export function decodeOwned(bytes: Uint8Array, name: string, maxBytes: number, owned: boolean): IdxArray {
  const h = readHeader(bytes, name, true) as IdxHeader;
  if (bytes.length !== h.totalBytes) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${name}: the header says ${describeHeader(h)}, but the file has ${bytes.length} bytes`,
      { path: name },
    );
  }
  if (h.totalBytes > maxBytes) throw tooLargeDeclared(name, h, maxBytes);
  return { dtype: h.dtype, shape: h.shape, data: readValues(bytes, h, owned) };
}

function readValues(bytes: Uint8Array, h: IdxHeader, owned: boolean) {
  const { headerBytes: offset, count } = h;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (h.dtype) {
    case 'uint8':
      // A plain copy unless we own the bytes: the caller may hold a Node Buffer (whose slice() is a view) or a
      // larger buffer that should be freed, and users must be able to write into the result without touching the
      // source.
      return owned
        ? bytes.subarray(offset, offset + count)
        : new Uint8Array(bytes.subarray(offset, offset + count));
    case 'int8':
      return new Int8Array(new Uint8Array(bytes.subarray(offset, offset + count)).buffer);
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * Decodes any IDX file, of any data type and rank. Gzip-compressed input is recognised by its magic bytes and
 * inflated chunk by chunk (universal: `DecompressionStream`): the header is read as soon as it arrives, and
 * inflating stops at once when the data goes past what the header declares (`BAD_SHAPE`) or past `maxBytes`
 * (`TOO_LARGE`), so a gzip bomb costs neither time nor memory. Every failure is a `FashionMnistError`.
 *
 * @param options - `{ name, maxBytes }`, or just the name used in messages.
 * @example
 * ```ts
 * const labels = await parseIdx(await fs.promises.readFile('train-labels-idx1-ubyte.gz'));
 * labels.shape; // [60000]
 * ```
 */
export async function parseIdx(bytes: Uint8Array, options?: string | ParseIdxOptions): Promise<IdxArray> {
  const opts = mergeOptions<ParseIdxOptions>(
    'parseIdx',
    { name: 'input', maxBytes: PARSE_IDX_MAX_BYTES },
    typeof options === 'string' ? { name: options } : options,
  );
  if (typeof opts.name !== 'string') {
    throw badOption(`parseIdx: option 'name' must be a string, received ${show(opts.name)}`);
  }
  const name = opts.name;
  const maxBytes = checkNumber('parseIdx', 'maxBytes', opts.maxBytes, { integer: true, min: 0 });
  if (!(bytes instanceof Uint8Array)) {
    throw new FashionMnistError('BAD_INPUT', `parseIdx: bytes must be a Uint8Array, received ${show(bytes)}`);
  }
  if (!isGzip(bytes)) return decodeOwned(bytes, name, maxBytes, false);
  let head: Uint8Array = new Uint8Array(0);
  let header: IdxHeader | undefined;
  let out: Uint8Array | undefined;
  let written = 0;
  for await (const chunk of inflateChunks(bytes, name)) {
    if (header && out) {
      if (written + chunk.length > out.length) {
        throw new FashionMnistError(
          'BAD_SHAPE',
          `${name}: the header says ${describeHeader(header)}, but the data goes on past it; stopped inflating`,
          { path: name },
        );
      }
      out.set(chunk, written);
      written += chunk.length;
      continue;
    }
    head = concatBytes([head, chunk]);
    header = readHeader(head, name, false);
    if (!header) continue;
    if (header.totalBytes > maxBytes) throw tooLargeDeclared(name, header, maxBytes);
    if (head.length > header.totalBytes) {
      throw new FashionMnistError(
        'BAD_SHAPE',
        `${name}: the header says ${describeHeader(header)}, but the data goes on past it; stopped inflating`,
        { path: name },
      );
    }
    // The header is checked against maxBytes, so this allocation is bounded; pages are only touched as they fill.
    try {
      out = new Uint8Array(header.totalBytes);
    } catch (cause) {
      throw new FashionMnistError(
        'TOO_LARGE',
        `${name}: cannot allocate the ${describeHeader(header)} its header declares; lower 'maxBytes'`,
        { path: name, cause },
      );
    }
    out.set(head);
    written = head.length;
  }
  if (!header || !out) return decodeOwned(head, name, maxBytes, true);
  if (written !== out.length) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${name}: the header says ${describeHeader(header)}, but the data has ${written} bytes`,
      { path: name },
    );
  }
  return { dtype: header.dtype, shape: header.shape, data: readValues(out, header, true) };
}

/**
 * Encodes values as an uncompressed IDX file (big-endian, as the format requires). The inverse of
 * {@link parseIdx}; used to write the embedded sample and test fixtures.
 *
 * @example
 * ```ts
 * const bytes = encodeIdx({ dtype: 'uint8', shape: [2], data: new Uint8Array([3, 7]) });
 * ```
 */
export function encodeIdx(array: IdxArray): Uint8Array {
  if (array === null || typeof array !== 'object') {
    throw new FashionMnistError(
      'BAD_INPUT',
      `encodeIdx: expected { dtype, shape, data }, received ${show(array)}`,
    );
  }
  const { dtype, shape, data } = array;
  const code = DTYPE_CODE[dtype];
  if (code === undefined) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `encodeIdx: unknown dtype ${show(dtype)}; known dtypes are ${Object.keys(DTYPE_CODE).join(', ')}`,
    );
  }
  if (
    !Array.isArray(shape) ||
    shape.length > 255 ||
    shape.some((d) => !Number.isInteger(d) || d < 0 || d > 0xffffffff)
  ) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `encodeIdx: shape must be an array of at most 255 whole numbers from 0 to 4294967295, received ` +
        `${Array.isArray(shape) ? `[${shape.join(', ')}]` : show(shape)}`,
    );
  }
  if (!ArrayBuffer.isView(data) || !('length' in data)) {
    throw new FashionMnistError('BAD_INPUT', `encodeIdx: data must be a typed array, received ${show(data)}`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `encodeIdx: shape [${shape.join(', ')}] holds ${count} values but data has ${data.length}`,
    );
  }
  const size = CODES[code].size;
  const header = 4 + 4 * shape.length;
  const out = new Uint8Array(header + count * size);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = shape.length;
  for (const [i, d] of shape.entries()) view.setUint32(4 + 4 * i, d, false);
  for (let i = 0; i < count; i++) {
    const v = data[i];
    const at = header + i * size;
    if (dtype === 'uint8') out[at] = v;
    else if (dtype === 'int8') view.setInt8(at, v);
    else if (dtype === 'int16') view.setInt16(at, v, false);
    else if (dtype === 'int32') view.setInt32(at, v, false);
    else if (dtype === 'float32') view.setFloat32(at, v, false);
    else view.setFloat64(at, v, false);
  }
  return out;
}

/**
 * SHA-256 of `bytes` as lowercase hex, through Web Crypto (browsers and Node ≥ 18).
 *
 * @example
 * ```ts
 * await sha256Hex(new TextEncoder().encode('abc')); // 'ba7816bf…'
 * ```
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}
