// Decoding and feature detection for the WebAssembly kernels that scripts/build-wasm.mjs assembles from
// src/kernels/*.wat into src/kernels/wasm.generated.ts (base64, so every entry point bundles them).

/**
 * The bytes of one assembled module from its base64 text (works in Node and browsers: `atob`).
 * @example
 * ```ts
 * const bytes = wasmBytes(maxPoolGrad);
 * ```
 */
export function wasmBytes(base64: string): Uint8Array<ArrayBuffer> {
  const text = atob(base64);
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i);
  return out;
}

const compiled = new Map<string, WebAssembly.Module | null>();

/**
 * The compiled module for one kernel, or null when this engine cannot run it (no WebAssembly, no 128-bit
 * SIMD, no shared memory: feature detection is `WebAssembly.validate` on the kernel itself). Cached.
 * @example
 * ```ts
 * const mod = kernelModule(maxPoolGrad);
 * if (mod == null) useJsFallback();
 * ```
 */
export function kernelModule(base64: string): WebAssembly.Module | null {
  const hit = compiled.get(base64);
  if (hit !== undefined) return hit;
  let mod: WebAssembly.Module | null = null;
  try {
    if (typeof WebAssembly === 'object') {
      const bytes = wasmBytes(base64);
      if (WebAssembly.validate(bytes)) mod = new WebAssembly.Module(bytes);
    }
  } catch {
    mod = null;
  }
  compiled.set(base64, mod);
  return mod;
}
