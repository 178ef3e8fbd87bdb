// The dropout-mask generator (src/kernels/dropout_mask.wat, SIMD) against its JS twin and against the
// formula written out independently here; its statistics; and SeededDropout, which uses it for seeded
// training: the same masks on cpu and wasm, the mask as the gradient, noiseShape broadcasting, no leaks.
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { SeededDropout } from '../../src/cnn/dropout.js';
import { dropoutMaskInWasm, dropoutMultipliers } from '../../src/cnn/dropout-mask.js';
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

  it('gives the same outputs and gradients on cpu and wasm, and leaks nothing', async () => {
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
