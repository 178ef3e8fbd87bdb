// The dropout-mask generator (src/kernels/dropout_mask.wat, SIMD) against its JS twin and against the
// formula written out independently here; its statistics; the wasm backend's FashionMnistDropoutMask kernel,
// which runs it in the backend's heap (plain and shared memory, and its JS path); and SeededDropout, which uses
// it for seeded training: the same masks on cpu and wasm, the mask as the gradient, noiseShape broadcasting,
// no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { makeDropoutMask } from '../../src/backend/wasm/dropout_mask.js';
import { installWasmTrainingKernels } from '../../src/backend/wasm/index.js';
import { simdKernels } from '../../src/backend/wasm/simd.js';
import { dropoutMaskTensor, SeededDropout } from '../../src/cnn/dropout.js';
import { dropoutMaskInWasm, dropoutMultipliers } from '../../src/internal/dropout-mask.js';
import { DROPOUT_MASK_KERNEL } from '../../src/internal/kernel-names.js';
import { createRandomSource } from '../../src/internal/random.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';

/** The generator as the kernel's comment states it, with BigInt arithmetic (no Math.imul shortcuts). */
function formula(n: number, rate: number, key: number): Float32Array {
  const M = 2n ** 32n;
  const u32 = (v: bigint) => ((v % M) + M) % M;
  const threshold = BigInt(Math.min(2 ** 32 - 1, Math.round(rate * 2 ** 32)));
  const scale = Math.fround(1 / (1 - rate));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let h = u32(BigInt(i) * 0x9e3779b9n + BigInt(key));
    h ^= h >> 16n;
    h = u32(h * 0x7feb352dn);
    h ^= h >> 15n;
    h = u32(h * 0x846ca68bn);
    h ^= h >> 16n;
    out[i] = h >= threshold ? scale : 0;
  }
  return out;
}

describe('dropoutMultipliers', () => {
  it('runs in WebAssembly here (SIMD available in Node 20)', () => {
    expect(dropoutMaskInWasm()).toBe(true);
  });

  it('gives the same bits in WebAssembly, in JS and by the written-out formula (every tail length)', () => {
    for (const n of [0, 1, 2, 3, 4, 5, 7, 8, 9, 63, 64, 65, 1001]) {
      for (const rate of [0.1, 0.3, 0.5, 0.9]) {
        for (const key of [1, 12345, 2 ** 31 - 1, -7]) {
          const wasm = dropoutMultipliers(n, rate, key);
          const js = dropoutMultipliers(n, rate, key, false);
          expect(Array.from(wasm), `n ${n} rate ${rate} key ${key}`).toEqual(Array.from(js));
          if (n <= 65) expect(Array.from(js)).toEqual(Array.from(formula(n, rate, key)));
        }
      }
    }
    // larger than the module's initial memory page: it grows, and stays right
    const big = dropoutMultipliers(300_001, 0.3, 99);
    expect(big.length).toBe(300_001);
    expect(big.subarray(299_990)).toEqual(dropoutMultipliers(300_001, 0.3, 99, false).subarray(299_990));
  });

  it('keeps each element with probability 1 - rate, scaled by 1 / (1 - rate); keys give independent masks', () => {
    const n = 200_000;
    for (const rate of [0.1, 0.3, 0.5, 0.8]) {
      const m = dropoutMultipliers(n, rate, 4242);
      const scale = Math.fround(1 / (1 - rate));
      let kept = 0;
      for (const v of m) {
        if (v !== 0) {
          expect(v).toBe(scale);
          kept++;
        }
      }
      const sd = Math.sqrt(n * rate * (1 - rate));
      expect(Math.abs(kept - n * (1 - rate))).toBeLessThan(6 * sd);
    }
    // two keys: the fraction kept by both is (1 - rate)^2, as for independent masks; neighbours are independent
    const a = dropoutMultipliers(n, 0.5, 1);
    const b = dropoutMultipliers(n, 0.5, 2);
    let both = 0;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      if (a[i] && b[i]) both++;
      if (i > 0 && a[i] && a[i - 1]) pairs++;
    }
    const sd = Math.sqrt(n * 0.25 * 0.75);
    expect(Math.abs(both - n * 0.25)).toBeLessThan(6 * sd);
    expect(Math.abs(pairs - (n - 1) * 0.25)).toBeLessThan(6 * sd);
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });
});

/** The mask's bits, for exact comparison (0 and scale, but -0 or NaN would show). */
const bits = (a: Float32Array | ArrayLike<number>) =>
  Array.from(new Uint32Array(Float32Array.from(a).buffer));

describe("FashionMnistDropoutMask: the generator in the wasm backend's heap", () => {
  const SHAPES = [[1], [3], [4], [5], [7], [2, 3, 4, 5], [64, 7, 7, 32], [64, 14, 14, 64]];

  it("writes dropoutMultipliers' bits straight into a tensor, for every tail length, and leaks nothing", async () => {
    installWasmTrainingKernels();
    await useBackend('wasm');
    expect(tf.getKernel(DROPOUT_MASK_KERNEL, 'wasm')).toBeDefined();
    const before = tf.memory().numTensors;
    for (const shape of SHAPES) {
      for (const [rate, key] of [
        [0.3, 12345],
        [0.5, -7],
        [0.1, 2 ** 31 - 1],
      ] as const) {
        const n = tf.util.sizeFromShape(shape);
        const t = dropoutMaskTensor(shape, rate, key);
        expect(t.shape).toEqual(shape);
        expect(t.dtype).toBe('float32');
        expect(bits(t.dataSync()), `${shape} ${rate} ${key}`).toEqual(
          bits(dropoutMultipliers(n, rate, key, false)),
        );
        t.dispose();
      }
    }
    // an empty mask is a valid empty tensor
    const empty = dropoutMaskTensor([0, 3], 0.5, 1);
    expect(empty.shape).toEqual([0, 3]);
    empty.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('is what dropoutMaskTensor gives on cpu too (uploaded from JS there)', async () => {
    await useBackend('cpu');
    expect(tf.getKernel(DROPOUT_MASK_KERNEL, 'cpu')).toBeUndefined();
    const t = dropoutMaskTensor([2, 3, 4, 5], 0.3, 99);
    expect(bits(t.dataSync())).toEqual(bits(dropoutMultipliers(120, 0.3, 99, false)));
    t.dispose();
  });

  it('works in a shared memory (the threaded build) at any 4-byte offset, writing nothing past the mask', () => {
    const memory = new WebAssembly.Memory({ initial: 2, maximum: 16, shared: true });
    const k = simdKernels({ asm: {}, wasmMemory: memory });
    expect(k).not.toBeNull();
    const heap = new Float32Array(memory.buffer);
    for (const [at, n] of [
      [16, 1],
      [20, 7],
      [36, 1001],
    ] as const) {
      heap.fill(123);
      k?.dropoutMask(at * 4, n, 4242, Math.round(0.3 * 2 ** 32), Math.fround(1 / 0.7));
      expect(bits(heap.subarray(at, at + n))).toEqual(bits(dropoutMultipliers(n, 0.3, 4242, false)));
      expect(heap[at - 1]).toBe(123);
      expect(heap[at + n]).toBe(123);
    }
  });

  it('fills the tensor with the JS generator where the SIMD module cannot bind (no backend memory found)', () => {
    // A backend whose heap the kernels cannot find (no asm.memory, no wasmMemory): the kernel's JS path.
    const heap = new Uint8Array(4096);
    const made: { dataId: object; shape: number[]; dtype: 'float32' }[] = [];
    const offsets = new Map<object, { memoryOffset: number }>();
    const backend = {
      wasm: { HEAPU8: heap },
      dataIdMap: { get: (id: object) => offsets.get(id) },
      makeOutput(shape: number[]) {
        const info = { dataId: {}, shape, dtype: 'float32' as const };
        offsets.set(info.dataId, { memoryOffset: 64 });
        made.push(info);
        return info;
      },
      disposeData: () => true,
    };
    new Float32Array(heap.buffer).fill(123);
    const out = makeDropoutMask()({ inputs: {}, backend, attrs: { shape: [3, 5], rate: 0.5, key: 77 } });
    expect(made).toHaveLength(1);
    expect(out).toBe(made[0]);
    expect(bits(new Float32Array(heap.buffer, 64, 15))).toEqual(bits(dropoutMultipliers(15, 0.5, 77, false)));
    expect(new Float32Array(heap.buffer)[64 / 4 + 15]).toBe(123);
  });
});

describe('SeededDropout with a random source: masks from the generator', () => {
  /** One layer, one source: a gradient through one training call, then the output of a second call. */
  const run = async (backend: (typeof BACKENDS)[number]) => {
    await useBackend(backend);
    const before = tf.memory().numTensors;
    const layer = new SeededDropout({ rate: 0.3 });
    layer.setRandomSource(createRandomSource('masks'));
    const x = tf.tidy(() => tf.add(tf.reshape(tf.range(0, 120), [2, 3, 4, 5]), 1));
    const { value, grads } = tf.valueAndGrads((v: tf.Tensor) =>
      tf.sum(layer.apply(v, { training: true }) as tf.Tensor),
    )([x]);
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const out = {
      sum: value.dataSync()[0]!,
      grad: Array.from(grads[0]!.dataSync()),
      y: Array.from(y.dataSync()),
    };
    tf.dispose([x, value, y, ...grads]);
    return { out, leaked: tf.memory().numTensors - before };
  };

  it('multiplies by the generator mask for the key drawn from the source; the gradient is that mask', async () => {
    await useBackend('cpu');
    const layer = new SeededDropout({ rate: 0.3 });
    layer.setRandomSource(createRandomSource('k'));
    const key = 1 + Math.floor(createRandomSource('k')() * 2 ** 31);
    const mask = dropoutMultipliers(120, 0.3, key);
    const x = tf.tidy(() => tf.add(tf.reshape(tf.range(0, 120), [2, 3, 4, 5]), 1));
    const [g] = tf.grads((v: tf.Tensor) => tf.sum(layer.apply(v, { training: true }) as tf.Tensor))([x]);
    expect(Array.from(g!.dataSync())).toEqual(Array.from(mask));
    const y = layer.apply(x, { training: true }) as tf.Tensor; // the source's second draw: another mask
    const key2 = (() => {
      const r = createRandomSource('k');
      r();
      return 1 + Math.floor(r() * 2 ** 31);
    })();
    const mask2 = dropoutMultipliers(120, 0.3, key2);
    const xv = x.dataSync();
    expect(Array.from(y.dataSync())).toEqual(Array.from(mask2, (m, i) => Math.fround(m * xv[i]!)));
    tf.dispose([x, g!, y]);
  });

  it('gives the same outputs and gradients on cpu and wasm (masks made in the heap there), and leaks nothing', async () => {
    installWasmTrainingKernels();
    const results = [];
    for (const backend of BACKENDS) {
      const { out, leaked } = await run(backend);
      results.push(out);
      expect(leaked, backend).toBe(0);
    }
    // element-wise products are exact on both; the sum's rounding order differs between the backends
    expect(results[1]!.y).toEqual(results[0]!.y);
    expect(results[1]!.grad).toEqual(results[0]!.grad);
    expect(results[1]!.sum).toBeCloseTo(results[0]!.sum, 2);
  });

  it('broadcasts a noiseShape mask and stays the identity at inference', async () => {
    await useBackend('cpu');
    const layer = new SeededDropout({ rate: 0.5, noiseShape: [null, 1, 1, 5] });
    layer.setRandomSource(createRandomSource('n'));
    const x = tf.ones([2, 3, 4, 5]);
    const y = layer.apply(x, { training: true }) as tf.Tensor;
    const v = y.dataSync();
    // every (image, channel) is either all 0 or all 2 across the 3x4 pixels
    for (let n = 0; n < 2; n++) {
      for (let c = 0; c < 5; c++) {
        const seen = new Set<number>();
        for (let p = 0; p < 12; p++) seen.add(v[(n * 12 + p) * 5 + c]!);
        expect(seen.size).toBe(1);
        expect([0, 2]).toContain([...seen][0]);
      }
    }
    const inference = layer.apply(x) as tf.Tensor;
    expect(Array.from(inference.dataSync())).toEqual(new Array(120).fill(1));
    tf.dispose([x, y, inference]);
  });
});
