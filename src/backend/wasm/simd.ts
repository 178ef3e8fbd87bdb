// The SIMD max-pool gradient, Adam step, narrow filter gradients, fused conv/ReLU/pool block and dropout masks
// (src/kernels/max_pool_grad.wat, adam.wat, filter_grad_t4.wat, filter_grad_runs.wat, conv_relu_pool.wat and
// dropout_mask.wat, assembled at build time by scripts/build-wasm.mjs) instantiated over the wasm backend's own
// memory, so they work on tensors in place. When SIMD is unavailable (feature detection: `WebAssembly.validate`
// on the kernel) or the backend's memory cannot be found, `simdKernels` returns null and the callers keep their
// JS path.
import { kernelModule } from '../../kernels/load.js';
import {
  adam,
  adamShared,
  convReluPool,
  convReluPoolShared,
  dropoutMask,
  dropoutMaskShared,
  filterGradRuns,
  filterGradRunsShared,
  filterGradT4,
  filterGradT4Shared,
  maxPoolGrad,
  maxPoolGradShared,
} from '../../kernels/wasm.generated.js';

/**
 * The SIMD helpers bound to one backend's memory.
 * @example
 * ```ts
 * simd.maxPoolGrad2x2(xPtr, dyPtr, dxPtr, N * OH, OW, W, C * 4);
 * ```
 */
export interface SimdKernels {
  maxPoolGrad2x2(
    x: number,
    dy: number,
    dx: number,
    rows: number,
    outW: number,
    inW: number,
    cb: number,
  ): void;
  /** out[t][co] += Σ_p xcol[p][t]·dy[p][co] for T % 4 = 0, Co % 16 = 0 (src/kernels/filter_grad_t4.wat). */
  filterGradT4(xcol: number, dy: number, out: number, P: number, T: number, Co: number): void;
  /**
   * One tap's filter gradient over `runs` runs of `len` pixels, added to out [Ci, Co] (Ci % 4 = 0, Co % 8 = 0;
   * src/kernels/filter_grad_runs.wat).
   */
  filterGradRuns(
    x: number,
    dy: number,
    out: number,
    runs: number,
    len: number,
    xRun: number,
    dyRun: number,
    Ci: number,
    Co: number,
    chunk: number,
  ): void;
  /** One Adam update of `n` floats (src/kernels/adam.wat): reads w, g, m, v and writes wOut, mOut, vOut. */
  adamStep(
    w: number,
    g: number,
    m: number,
    v: number,
    wOut: number,
    mOut: number,
    vOut: number,
    n: number,
    b1: number,
    c1: number,
    b2: number,
    c2: number,
    d1: number,
    d2: number,
    eps: number,
    nlr: number,
  ): void;
  /**
   * Conv (one input channel, stride 1) + bias + ReLU + 2x2/2 max pool over a zero-padded input `xp` [N, HP, WP],
   * writing the pooled output and the routing codes (src/kernels/conv_relu_pool.wat).
   */
  convReluPool(
    xp: number,
    filter: number,
    bias: number,
    out: number,
    codes: number,
    ...shape: ConvReluPoolShape
  ): void;
  /** {@link SimdKernels.convReluPool} for a 2x2 filter (taps in registers; same arguments and results). */
  convReluPool2x2: SimdKernels['convReluPool'];
  /** The filter and bias gradients of {@link SimdKernels.convReluPool}, added to the zeroed dF, dB. */
  convReluPoolGrad(
    xp: number,
    dy: number,
    codes: number,
    dF: number,
    dB: number,
    scratch: number,
    ...shape: ConvReluPoolShape
  ): void;
  /** {@link SimdKernels.convReluPoolGrad} for a 2x2 filter (sums in registers; same arguments and results). */
  convReluPoolGrad2x2: SimdKernels['convReluPoolGrad'];
  /**
   * `n` seeded dropout multipliers (src/kernels/dropout_mask.wat) written at `out`: `scale` where the draw for
   * (i, key) is at least the unsigned `threshold`, else 0.
   */
  dropoutMask(out: number, n: number, key: number, threshold: number, scale: number): void;
}

/**
 * The shape arguments shared by the fused first-block kernels: batch, pooled height and width, padded input
 * height and width, filter height and width, output channels.
 */
type ConvReluPoolShape = [
  N: number,
  PH: number,
  PW: number,
  HP: number,
  WP: number,
  KH: number,
  KW: number,
  Co: number,
];

const cache = new WeakMap<WebAssembly.Memory, SimdKernels | null>();
/**
 * The helpers for the backend whose emscripten module is `wasmModule`, or null when unavailable.
 * @example
 * ```ts
 * const simd = simdKernels(backend.wasm);
 * if (simd == null) {
 *   // no SIMD or no exported memory: use the JS loop
 * }
 * ```
 */
export function simdKernels(wasmModule: unknown): SimdKernels | null {
  const module = wasmModule as { asm?: { memory?: unknown }; wasmMemory?: unknown } | null;
  // The single-threaded build exports its memory; the threaded build (a cross-origin isolated page) imports a
  // shared one it creates itself and publishes it as Module.wasmMemory for its workers.
  const memory = module?.asm?.memory ?? module?.wasmMemory;
  if (!(memory instanceof WebAssembly.Memory)) return null;
  if (cache.has(memory)) return cache.get(memory) ?? null;
  let kernels: SimdKernels | null = null;
  try {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const pool = kernelModule(shared ? maxPoolGradShared : maxPoolGrad);
    const step = kernelModule(shared ? adamShared : adam);
    const grad = kernelModule(shared ? filterGradT4Shared : filterGradT4);
    const block = kernelModule(shared ? convReluPoolShared : convReluPool);
    const runs = kernelModule(shared ? filterGradRunsShared : filterGradRuns);
    const mask = kernelModule(shared ? dropoutMaskShared : dropoutMask);
    if (pool != null && step != null && grad != null && block != null && runs != null && mask != null) {
      const imports = { env: { memory } };
      const exportsOf = (mod: WebAssembly.Module) => new WebAssembly.Instance(mod, imports).exports;
      kernels = {
        ...(exportsOf(pool) as unknown as Pick<SimdKernels, 'maxPoolGrad2x2'>),
        ...(exportsOf(step) as unknown as Pick<SimdKernels, 'adamStep'>),
        ...(exportsOf(grad) as unknown as Pick<SimdKernels, 'filterGradT4'>),
        ...(exportsOf(runs) as unknown as Pick<SimdKernels, 'filterGradRuns'>),
        ...(exportsOf(mask) as unknown as Pick<SimdKernels, 'dropoutMask'>),
        ...(exportsOf(block) as unknown as Pick<
          SimdKernels,
          'convReluPool' | 'convReluPool2x2' | 'convReluPoolGrad' | 'convReluPoolGrad2x2'
        >),
      };
    }
  } catch {
    kernels = null;
  }
  cache.set(memory, kernels);
  return kernels;
}
