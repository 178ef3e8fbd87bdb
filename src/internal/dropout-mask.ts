// The dropout masks of seeded training: one multiplier per element (0, or 1 / keep probability), drawn by a
// counter-based generator in WebAssembly (src/kernels/dropout_mask.wat, 128-bit SIMD) instead of tfjs's
// per-element JS generator behind tf.dropout, which cost about as much as the reference CNN's convolutions'
// forward pass (~900,000 uniforms per batch of 64). The same function in JS below gives bit-identical masks where
// the module cannot run, so a seeded run has the same masks on every backend and platform. On the wasm backend
// with the training kernels, `FashionMnistDropoutMask` (src/backend/wasm/dropout_mask.ts) runs the same module
// over the backend's heap and writes the mask straight into a tensor: no JS array, no copy, no upload.
import { kernelModule } from '../kernels/load.js';
import { dropoutMask as dropoutMaskWasm } from '../kernels/wasm.generated.js';

interface MaskExports {
  dropoutMask(out: number, n: number, key: number, threshold: number, scale: number): void;
}

let instance: { memory: WebAssembly.Memory; exports: MaskExports } | null | undefined;

function wasmKernel(): { memory: WebAssembly.Memory; exports: MaskExports } | null {
  if (instance !== undefined) return instance;
  const mod = kernelModule(dropoutMaskWasm);
  if (mod) {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const exports = new WebAssembly.Instance(mod, { env: { memory } }).exports as unknown as MaskExports;
    instance = { memory, exports };
  } else {
    instance = null;
  }
  return instance;
}

/** The element hash of the generator (u32 arithmetic), as in the WebAssembly kernel. */
function hash(i: number, key: number): number {
  let h = (Math.imul(i, 0x9e3779b9) + key) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The generator's arguments for drop probability `rate` in (0, 1): the unsigned threshold a draw must reach to
 * keep its element (`rate · 2^32`), and the kept elements' value (`1 / (1 - rate)` as float32).
 */
export function dropoutMaskParams(rate: number): { threshold: number; scale: number } {
  return { threshold: Math.min(2 ** 32 - 1, Math.round(rate * 2 ** 32)), scale: Math.fround(1 / (1 - rate)) };
}

/** Fills `out` with the mask for (`key`, `rate`) in JS: the generator's reference, bit-identical to the kernel. */
export function fillDropoutMask(out: Float32Array, rate: number, key: number): void {
  const { threshold, scale } = dropoutMaskParams(rate);
  for (let i = 0; i < out.length; i++) out[i] = hash(i, key | 0) >= threshold ? scale : 0;
}

/**
 * `n` dropout multipliers for drop probability `rate` in (0, 1) and mask key `key` (any 32-bit integer):
 * element i is `1 / (1 - rate)` (as float32) when the generator's draw for (i, key) is at least `rate · 2^32`,
 * else 0. `useWasm: false` forces the JS path (for tests; the results are identical).
 */
export function dropoutMultipliers(n: number, rate: number, key: number, useWasm = true): Float32Array {
  const out = new Float32Array(n);
  const k = wasmKernel();
  if (useWasm && k && n > 0) {
    const { threshold, scale } = dropoutMaskParams(rate);
    const bytes = n * 4;
    const have = k.memory.buffer.byteLength;
    if (have < bytes) k.memory.grow(Math.ceil((bytes - have) / 65536));
    k.exports.dropoutMask(0, n, key | 0, threshold | 0, scale);
    // (set, not slice: V8 copies a view of WebAssembly memory element by element in slice, with memcpy in set)
    out.set(new Float32Array(k.memory.buffer, 0, n));
    return out;
  }
  fillDropoutMask(out, rate, key);
  return out;
}

/** Whether {@link dropoutMultipliers} runs in WebAssembly here (false: the JS generator). */
export function dropoutMaskInWasm(): boolean {
  return wasmKernel() !== null;
}
