// The assembled SIMD max-pool gradient (src/kernels/max_pool_grad.wat) against a plain JS reference of
// the cpu backend's scan, on its own memory (plain and shared), with ties, -Infinity, NaN and signed
// zeros; and the fallback contract (null when no memory can be found).
import { describe, expect, it } from 'vitest';
import { simdKernels } from '../../src/backend/wasm/simd.js';
import { mulberry32 } from '../helpers/rng.js';

/** The cpu backend's routing: strict `>` scan from -Infinity in row-major window order. */
function reference(x: Float32Array, dy: Float32Array, N: number, OH: number, OW: number, C: number) {
  const H = 2 * OH;
  const W = 2 * OW;
  const dx = new Float32Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < OH; oh++) {
      for (let ow = 0; ow < OW; ow++) {
        for (let c = 0; c < C; c++) {
          let best = Number.NEGATIVE_INFINITY;
          let at = -1;
          for (let r = 0; r < 2; r++) {
            for (let q = 0; q < 2; q++) {
              const i = ((n * H + 2 * oh + r) * W + 2 * ow + q) * C + c;
              if (x[i] > best) {
                best = x[i];
                at = i;
              }
            }
          }
          if (at >= 0) dx[at] = dy[((n * OH + oh) * OW + ow) * C + c];
        }
      }
    }
  }
  return dx;
}

function sample(r: () => number): number {
  const u = r();
  if (u < 0.05) return Number.NEGATIVE_INFINITY;
  if (u < 0.08) return Number.NaN;
  if (u < 0.1) return -0;
  if (u < 0.5) return Math.floor(r() * 3) - 1; // many ties
  return r() * 4 - 2;
}

describe('maxPoolGrad2x2 (assembled from WAT) vs the JS reference', () => {
  for (const shared of [false, true]) {
    it(`matches bit for bit on random shapes (${shared ? 'shared' : 'plain'} memory)`, () => {
      const memory = shared
        ? new WebAssembly.Memory({ initial: 4, maximum: 64, shared: true })
        : new WebAssembly.Memory({ initial: 4 });
      const k = simdKernels({ asm: { memory } });
      expect(k).not.toBeNull();
      const r = mulberry32(shared ? 7 : 3);
      for (let t = 0; t < 25; t++) {
        const N = 1 + Math.floor(r() * 3);
        const OH = 1 + Math.floor(r() * 5);
        const OW = 1 + Math.floor(r() * 5);
        const C = 4 * (1 + Math.floor(r() * 4));
        const xs = N * 2 * OH * 2 * OW * C;
        const ys = N * OH * OW * C;
        const x = Float32Array.from({ length: xs }, () => sample(r));
        const dy = Float32Array.from({ length: ys }, () => r() * 2 - 1);
        // x, dy, dx at arbitrary 4-byte aligned offsets, dx pre-filled with garbage
        const xp = 64 + 4 * Math.floor(r() * 8);
        const dyp = xp + xs * 4 + 4 * Math.floor(r() * 8);
        const dxp = dyp + ys * 4 + 4 * Math.floor(r() * 8);
        const heap = new Float32Array(memory.buffer);
        heap.set(x, xp / 4);
        heap.set(dy, dyp / 4);
        heap.fill(123, dxp / 4, dxp / 4 + xs);
        heap[dxp / 4 + xs] = 456; // sentinel just past dx
        k?.maxPoolGrad2x2(xp, dyp, dxp, N * OH, OW, 2 * OW, C * 4);
        const got = new Float32Array(memory.buffer, dxp, xs);
        const want = reference(x, dy, N, OH, OW, C);
        expect(new Uint32Array(got.slice().buffer)).toEqual(new Uint32Array(want.buffer));
        expect(heap[dxp / 4 + xs]).toBe(456);
      }
    });
  }

  it("binds to the threaded build's Module.wasmMemory (imported, not exported) and works in that memory", () => {
    // The threaded emscripten build (what a cross-origin isolated page gets) has no asm.memory; before it was
    // read, every SIMD kernel fell back to JS in Chromium.
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 16, shared: true });
    const k = simdKernels({ asm: {}, wasmMemory: memory });
    expect(k).not.toBeNull();
    const heap = new Float32Array(memory.buffer);
    heap.set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16], 16); // x: 1x2x2x4 (one pooling window)
    heap.set([0.5, 0.25, -1, 2], 32); // dy: 1x1x1x4
    k?.maxPoolGrad2x2(64, 128, 192, 1, 1, 2, 16);
    // The maximum of each channel is the last of the 2x2 window (x = 13..16): the gradient goes there only.
    expect(Array.from(heap.subarray(48, 64))).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.5, 0.25, -1, 2]);
  });

  it('returns null (JS path) when the backend exposes no memory', () => {
    expect(simdKernels({})).toBeNull();
    expect(simdKernels(null)).toBeNull();
  });
});
