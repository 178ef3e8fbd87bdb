// Weight (de)quantisation and model-manifest checks for the layers format, shared by every loader (the Node one
// reading folders, the universal one fetching URLs) and by saveModel. Universal: no Node built-ins.
import type * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';
import { concatBytes } from '../internal/bytes.js';
import { show } from '../internal/validate.js';

/**
 * How weights are stored on disk: as float32, or quantised to what `tf.io.decodeWeights` can read back.
 *
 * @example
 * ```ts
 * const q: WeightQuantization = 'float16';
 * ```
 */
export type WeightQuantization = 'none' | 'float16' | 'uint16' | 'uint8';

type Spec = tf.io.WeightsManifestEntry;

const BYTES: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  uint8: 1,
  uint16: 2,
  float16: 2,
  complex64: 8,
};

/** Largest `model.json` a loader reads: 32 MiB (the pretrained model's is 6 KiB). */
export const MAX_MODEL_JSON_BYTES = 32 * 1024 * 1024;

/** Largest total of weight bytes a manifest may declare: 1 GiB (the pretrained model has 0.8 MiB). */
export const MAX_WEIGHT_BYTES = 1024 * 1024 * 1024;

/**
 * Bytes one weight occupies in a weight file, following the manifest entry (quantisation included).
 *
 * @throws FashionMnistError `BAD_MODEL` for a dtype that cannot be stored or a shape that is not a list of
 * non-negative integers; `TOO_LARGE` beyond {@link MAX_WEIGHT_BYTES}.
 * @example
 * ```ts
 * specByteLength({ name: 'w', shape: [2, 3], dtype: 'float32', quantization: { dtype: 'float16' } }); // 12
 * ```
 */
export function specByteLength(spec: Spec): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const per = BYTES[dtype];
  if (per === undefined || !Object.hasOwn(BYTES, dtype)) {
    throw new FashionMnistError(
      'BAD_MODEL',
      `weight '${spec.name}' has dtype '${String(dtype)}', which cannot be stored (allowed: ${Object.keys(BYTES).join(', ')})`,
    );
  }
  let elements = 1;
  for (const d of spec.shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new FashionMnistError(
        'BAD_MODEL',
        `weight '${spec.name}' has shape [${spec.shape.map(show).join(', ')}]; dimensions must be non-negative integers`,
      );
    }
    elements *= d;
  }
  const bytes = elements * per;
  if (bytes > MAX_WEIGHT_BYTES) {
    throw new FashionMnistError(
      'TOO_LARGE',
      `weight '${spec.name}' of shape [${spec.shape.join(', ')}] needs ${bytes} bytes, more than the ` +
        `${MAX_WEIGHT_BYTES} bytes a model may have`,
    );
  }
  return bytes;
}

/**
 * Whether `path` is a weight-file name a manifest may list: a plain file name inside the model folder (no
 * directories, no `..`, nothing a URL or a file system would read as a separator, a query or a scheme).
 */
export function isShardName(path: unknown): path is string {
  return (
    typeof path === 'string' &&
    path.length > 0 &&
    path.length <= 255 &&
    path !== '.' &&
    path !== '..' &&
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
    !/[/\\%?#:\u0000-\u001f\u007f]/.test(path)
  );
}

/** One weight group of a checked manifest: its files, in order, and the bytes they must hold together. */
export interface ManifestGroup {
  paths: string[];
  bytes: number;
}

/** A `model.json` that passed {@link checkModelJson}. */
export interface CheckedModelJson {
  json: tf.io.ModelJSON;
  groups: ManifestGroup[];
  /** Every weight spec, in the order of the weight data. */
  specs: Spec[];
  /** Total weight bytes the manifest declares. */
  bytes: number;
}

/**
 * Every loader's last check of a weight group: its files hold exactly the bytes the manifest's weights need
 * (BAD_MODEL otherwise, naming the files and the model's `path`).
 */
export function checkGroupBytes(
  where: string,
  g: number,
  group: ManifestGroup,
  received: number,
  path: string,
): void {
  if (received !== group.bytes) {
    throw new FashionMnistError(
      'BAD_MODEL',
      `${where}: weight files of group ${g + 1} (${group.paths.join(', ')}) hold ${received} bytes but the ` +
        `manifest's weights need ${group.bytes}; the files are truncated or do not belong to this model.json`,
      { path },
    );
  }
}

const QUANTIZED = ['uint8', 'uint16', 'float16'];
/** The dtypes of weights tfjs decodes from a weight file (strings have no fixed size and are not supported). */
const WEIGHT_DTYPES = ['float32', 'int32', 'bool', 'complex64'];

/**
 * Parses and checks a `model.json` before anything else is read: a layers-model topology, a weights manifest
 * whose file names stay inside the model folder and whose weights have storable dtypes and shapes, at most
 * {@link MAX_WEIGHT_BYTES} in all. The loaders then check that the files hold exactly `groups[i].bytes`.
 *
 * @param where the public function, for messages; `source` names the `model.json` (path or URL).
 * @throws FashionMnistError `BAD_MODEL` naming the problem; `TOO_LARGE` for a manifest beyond the limits.
 */
export function checkModelJson(text: string, where: string, source: string): CheckedModelJson {
  const bad = (message: string, cause?: unknown) =>
    new FashionMnistError('BAD_MODEL', `${where}: ${source}: ${message}`, { path: source, cause });
  if (text.length > MAX_MODEL_JSON_BYTES) {
    throw new FashionMnistError(
      'TOO_LARGE',
      `${where}: ${source} has ${text.length} characters; a model.json may have at most ${MAX_MODEL_JSON_BYTES}`,
      { path: source },
    );
  }
  let json: tf.io.ModelJSON;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`not valid JSON (${(e as Error).message})`, e);
  }
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isObject(json) || !isObject(json.modelTopology)) {
    throw bad('no modelTopology; it is not a TensorFlow.js layers model');
  }
  if (json.format !== undefined && json.format !== 'layers-model') {
    throw bad(
      `format is ${show(json.format)}, not 'layers-model'; a graph model loads with tf.loadGraphModel, not here`,
    );
  }
  if (!Array.isArray(json.weightsManifest)) throw bad('no weightsManifest array');
  if (json.trainingConfig !== undefined && !isObject(json.trainingConfig)) {
    throw bad('trainingConfig is not an object');
  }
  if (json.userDefinedMetadata !== undefined && !isObject(json.userDefinedMetadata)) {
    throw bad('userDefinedMetadata is not an object');
  }
  const groups: ManifestGroup[] = [];
  const specs: Spec[] = [];
  const names = new Set<string>();
  let total = 0;
  for (const [g, group] of (json.weightsManifest as unknown[]).entries()) {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw bad(`weightsManifest[${g}] needs 'paths' and 'weights' arrays`);
    }
    let bytes = 0;
    for (const w of group.weights as Spec[]) {
      if (
        !isObject(w) ||
        typeof w.name !== 'string' ||
        !Array.isArray(w.shape) ||
        typeof w.dtype !== 'string'
      ) {
        throw bad(`weightsManifest[${g}] has an entry without name, shape and dtype`);
      }
      if (names.has(w.name)) throw bad(`weight '${w.name}' is listed twice`);
      names.add(w.name);
      const q = w.quantization;
      if (!WEIGHT_DTYPES.includes(w.dtype) || (q !== undefined && !['float32', 'int32'].includes(w.dtype))) {
        throw bad(
          `weight '${w.name}' has dtype '${w.dtype}'; weights are ${WEIGHT_DTYPES.join(', ')} ` +
            '(float32 or int32 when quantised)',
        );
      }
      if (q !== undefined) {
        if (!isObject(q) || !QUANTIZED.includes(q.dtype as string)) {
          throw bad(`weight '${w.name}' has a quantization that is not one of ${QUANTIZED.join(', ')}`);
        }
        if (q.dtype === 'float16' && w.dtype !== 'float32') {
          throw bad(`weight '${w.name}' is float16-quantised but of dtype '${w.dtype}', not float32`);
        }
        if (q.dtype !== 'float16' && !(Number.isFinite(q.min) && Number.isFinite(q.scale))) {
          throw bad(`weight '${w.name}' is ${q.dtype}-quantised without finite 'min' and 'scale'`);
        }
      }
      try {
        bytes += specByteLength(w);
      } catch (e) {
        const err = e as FashionMnistError;
        throw new FashionMnistError(err.code, `${where}: ${source}: ${err.message}`, {
          path: source,
          cause: e,
        });
      }
      specs.push(w);
    }
    for (const p of group.paths as unknown[]) {
      if (!isShardName(p)) {
        throw bad(`weight path ${show(p)} is not a file name inside the model directory`);
      }
    }
    total += bytes;
    if (total > MAX_WEIGHT_BYTES) {
      throw new FashionMnistError(
        'TOO_LARGE',
        `${where}: ${source} declares more than ${MAX_WEIGHT_BYTES} bytes of weights, the most a model may have`,
        { path: source },
      );
    }
    groups.push({ paths: group.paths as string[], bytes });
  }
  return { json, groups, specs, bytes: total };
}

// float32 → float16 bits with round-to-nearest-even, overflow to ±Infinity and gradual underflow; the decoder
// on the other side is tfjs-core's table-based one.
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
function toHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // too large: Infinity
  if (e <= 0) {
    if (e < -10) return sign; // too small: signed zero
    mant |= 0x800000; // make the implicit bit explicit and shift into a subnormal
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  let h = sign | (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent, which is correct
  return h;
}

/**
 * Re-encodes float32 weights in `data` (laid out as `specs` say) with the chosen quantisation and returns the
 * new specs and bytes; weights of other dtypes (optimizer step counters, …) are copied as they are. The
 * `uint8`/`uint16` scheme is the TensorFlow.js converter's affine one (`value ≈ q · scale + min`, per weight).
 *
 * @example
 * ```ts
 * const { specs, data } = quantizeWeights(artifacts.weightSpecs, weightBuffer, 'float16');
 * ```
 */
export function quantizeWeights(
  specs: readonly Spec[],
  data: ArrayBuffer,
  quantization: WeightQuantization,
): { specs: Spec[]; data: ArrayBuffer } {
  if (quantization === 'none') return { specs: specs.map((s) => ({ ...s })), data };
  const parts: Uint8Array[] = [];
  const outSpecs: Spec[] = [];
  let offset = 0;
  for (const spec of specs) {
    const size = specByteLength(spec);
    const bytes = new Uint8Array(data, offset, size);
    offset += size;
    if (spec.dtype !== 'float32' || spec.quantization) {
      parts.push(bytes.slice());
      outSpecs.push({ ...spec });
      continue;
    }
    const values = new Float32Array(bytes.slice().buffer);
    if (quantization === 'float16') {
      const q = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) q[i] = toHalf(values[i]);
      parts.push(new Uint8Array(q.buffer));
      outSpecs.push({ ...spec, quantization: { dtype: 'float16' } });
      continue;
    }
    const levels = quantization === 'uint8' ? 255 : 65535;
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (const v of values) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (values.length === 0) min = max = 0;
    const scale = max > min ? (max - min) / levels : 1;
    const q = quantization === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) q[i] = Math.round((values[i] - min) / scale);
    parts.push(new Uint8Array(q.buffer));
    outSpecs.push({ ...spec, quantization: { dtype: quantization, min, scale } });
  }
  return { specs: outSpecs, data: concatBytes(parts).buffer };
}
