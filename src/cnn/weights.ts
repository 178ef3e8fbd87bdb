// Weight (de)quantisation and manifest arithmetic for the layers format, shared by the Node save/load module.
// Universal: no Node built-ins, so a browser-side tool could use it too.
import type * as tf from '@tensorflow/tfjs-core';
import { concatBytes } from '../internal/bytes.js';

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

/**
 * Bytes one weight occupies in a weight file, following the manifest entry (quantisation included).
 *
 * @example
 * ```ts
 * specByteLength({ name: 'w', shape: [2, 3], dtype: 'float32', quantization: { dtype: 'float16' } }); // 12
 * ```
 */
export function specByteLength(spec: Spec): number {
  const dtype = spec.quantization?.dtype ?? spec.dtype;
  const per = BYTES[dtype];
  if (per === undefined)
    throw new Error(`weight '${spec.name}' has dtype '${dtype}', which cannot be stored`);
  return spec.shape.reduce((a, b) => a * b, 1) * per;
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
