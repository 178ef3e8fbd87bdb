import { FashionMnistError } from '../errors.js';

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
 * Inflates gzip data with the platform's `DecompressionStream` (browsers, Node ≥ 18, Deno, Bun).
 * Truncated or corrupt input is reported as a `FashionMnistError` with code `BAD_GZIP`.
 *
 * @example
 * ```ts
 * const raw = await gunzip(new Uint8Array(await (await fetch(url)).arrayBuffer()));
 * ```
 */
export async function gunzip(bytes: Uint8Array, name = 'input'): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') {
    throw new FashionMnistError(
      'BAD_GZIP',
      `${name}: this platform has no DecompressionStream to inflate gzip data`,
    );
  }
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>])
      .stream()
      .pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (cause) {
    throw new FashionMnistError('BAD_GZIP', `${name}: truncated or corrupt gzip data (${String(cause)})`, {
      path: name,
      cause,
    });
  }
}

/**
 * Decodes an uncompressed IDX file. Synchronous; use {@link parseIdx} when the bytes may be gzip-compressed.
 *
 * @param name - Used in error messages (a file name or URL).
 * @example
 * ```ts
 * const { shape, data } = parseIdxBytes(rawBytes); // shape [60000, 28, 28]
 * ```
 */
export function parseIdxBytes(bytes: Uint8Array, name = 'input'): IdxArray {
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
  const expected = headerBytes + count * spec.size;
  if (bytes.length !== expected) {
    throw new FashionMnistError(
      'BAD_SHAPE',
      `${name}: the header says ${spec.dtype}[${shape.join(', ')}] = ${expected} bytes in all, but the file has ${bytes.length} bytes`,
      { path: name },
    );
  }
  return { dtype: spec.dtype, shape, data: readValues(view, headerBytes, count, spec.dtype, bytes) };
}

function readValues(view: DataView, offset: number, count: number, dtype: IdxDtype, bytes: Uint8Array) {
  switch (dtype) {
    case 'uint8':
      // A plain copy, not a view: the caller may hold a Node Buffer (whose slice() is a view) or a larger buffer
      // that should be freed, and users must be able to write into the result without touching the source.
      return new Uint8Array(bytes.subarray(offset, offset + count));
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
 * inflated first (universal: uses `DecompressionStream`).
 *
 * @param name - Used in error messages (a file name or URL).
 * @example
 * ```ts
 * const labels = await parseIdx(await fs.promises.readFile('train-labels-idx1-ubyte.gz'));
 * labels.shape; // [60000]
 * ```
 */
export async function parseIdx(bytes: Uint8Array, name = 'input'): Promise<IdxArray> {
  return parseIdxBytes(isGzip(bytes) ? await gunzip(bytes, name) : bytes, name);
}

/**
 * Encodes values as an uncompressed IDX file (big-endian, as the format requires). The inverse of
 * {@link parseIdxBytes}; used to write the embedded sample and test fixtures.
 *
 * @example
 * ```ts
 * const bytes = encodeIdx({ dtype: 'uint8', shape: [2], data: new Uint8Array([3, 7]) });
 * ```
 */
export function encodeIdx(array: IdxArray): Uint8Array {
  const { dtype, shape, data } = array;
  const code = DTYPE_CODE[dtype];
  if (code === undefined) throw new TypeError(`encodeIdx: unknown dtype ${String(dtype)}`);
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(
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
