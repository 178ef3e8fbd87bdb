// Every wasm training kernel against the cpu backend's kernel on random shapes, strides, paddings,
// batch sizes and channel counts; gradients also against central finite differences; leak checks
// at the engine and at the wasm backend's storage. Tolerance (stated in docs/performance.md):
// max |wasm - cpu| <= RTOL * max|cpu| + ATOL per output tensor; exact equality where no
// arithmetic is involved (max-pool routing, identity).
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients used by tf.grads
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chooseFilterGradLayout,
  conv2dBackpropFilterImpl,
  type FilterGradLayout,
} from '../../src/backend/wasm/conv2d_backprop_filter.js';
import type { WasmBackendLike } from '../../src/backend/wasm/heap.js';
import {
  installWasmTrainingKernels,
  uninstallWasmTrainingKernels,
  WASM_TRAINING_KERNELS,
  wasmTrainingKernelsInstalled,
} from '../../src/backend/wasm/install.js';
import { simdKernels } from '../../src/backend/wasm/simd.js';
import { ScheduledAdam } from '../../src/cnn/optimizer.js';
import { useBackend } from '../helpers/backends.js';
import { mulberry32 as rng } from '../helpers/rng.js';

const RTOL = 2e-5;
const ATOL = 1e-6;

function randomArray(
  size: number,
  seed: number,
  transform: (u: number) => number = (u) => u * 2 - 1,
): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = transform(r());
  return out;
}

function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

type Inputs = Record<string, { values: Float32Array | Int32Array; shape: number[]; dtype?: tf.DataType }>;

/** Runs a kernel on `backend` with fresh tensors built from `inputs`; returns its values and shapes. */
async function runOn(
  backend: 'cpu' | 'wasm',
  kernel: string,
  inputs: Inputs,
  attrs: Record<string, unknown>,
): Promise<{ values: Float32Array[]; shapes: number[][] }> {
  await useBackend(backend);
  const ts: Record<string, tf.Tensor> = {};
  for (const [k, v] of Object.entries(inputs)) ts[k] = tf.tensor(v.values, v.shape, v.dtype ?? 'float32');
  const res = tf.engine().runKernel(kernel, ts, attrs as tf.NamedAttrMap) as tf.Tensor | tf.Tensor[];
  const list = Array.isArray(res) ? res : [res];
  const out = { values: list.map((t) => Float32Array.from(t.dataSync())), shapes: list.map((t) => t.shape) };
  tf.dispose([...list, ...Object.values(ts)]);
  return out;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  rtol = RTOL,
): number {
  expect(actual.length, what).toBe(expected.length);
  let err = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= err)) err = d; // NaN-safe: a NaN makes err NaN and fails below
  }
  const bound = rtol * maxAbs(expected) + ATOL;
  expect(err <= bound, `${what}: max |wasm - cpu| = ${err} > ${bound}`).toBe(true);
  return err;
}

/** Runs `kernel` on cpu and wasm with the same data and compares every output. */
async function compareKernel(
  kernel: string,
  inputs: Inputs,
  attrs: Record<string, unknown>,
  what: string,
  rtol = RTOL,
): Promise<void> {
  const ref = await runOn('cpu', kernel, inputs, attrs);
  const got = await runOn('wasm', kernel, inputs, attrs);
  expect(got.shapes, what).toEqual(ref.shapes);
  got.values.forEach((v, i) => {
    if (rtol === 0) expect(Array.from(v), what).toEqual(Array.from(ref.values[i]));
    else expectClose(v, ref.values[i], what, rtol);
  });
}

beforeAll(async () => {
  await useBackend('wasm');
  installWasmTrainingKernels();
});

afterAll(() => {
  // leave the process as other suites expect it
  if (!wasmTrainingKernelsInstalled()) installWasmTrainingKernels();
});

describe('installWasmTrainingKernels', () => {
  it('registers every kernel once and reports a second call as a no-op', () => {
    for (const name of WASM_TRAINING_KERNELS) expect(tf.getKernel(name, 'wasm'), name).toBeDefined();
    const again = installWasmTrainingKernels();
    expect(again).toEqual({ installed: [], replaced: [], alreadyInstalled: true });
    expect(wasmTrainingKernelsInstalled()).toBe(true);
  });
});

describe('Conv2DBackpropFilter (wasm) vs cpu', () => {
  const r = rng(11);
  const cases: { x: number[]; f: number[]; s: number | [number, number]; pad: 'same' | 'valid' | number }[] =
    [
      // the reference CNN's two layers (smaller batches: the cpu reference is slow; 24 images still
      // make two chunks for the first layer's layout)
      { x: [24, 28, 28, 1], f: [2, 2, 1, 64], s: 1, pad: 'same' },
      { x: [6, 14, 14, 64], f: [2, 2, 64, 32], s: 1, pad: 'same' },
      { x: [3, 9, 7, 5], f: [3, 3, 5, 2], s: 2, pad: 'same' },
      { x: [2, 8, 8, 3], f: [3, 3, 3, 6], s: 1, pad: 'valid' },
      { x: [1, 10, 6, 2], f: [2, 3, 2, 3], s: [3, 2], pad: 'valid' },
      { x: [2, 7, 7, 4], f: [3, 3, 4, 4], s: 1, pad: 1 },
      // the 'direct' SIMD layout: vgg-bn's first layer (9 taps, padded to 12), T = 8 with stride 2, T = 16
      { x: [5, 28, 28, 1], f: [3, 3, 1, 32], s: 1, pad: 'same' },
      { x: [3, 9, 9, 2], f: [2, 2, 2, 16], s: 2, pad: 'valid' },
      { x: [2, 6, 5, 4], f: [2, 2, 4, 48], s: 1, pad: 'same' },
      // the 'runs' SIMD layout (stride 1, Ci in 4s, Co in 8s): vgg-bn's inner layers, 'valid', explicit padding,
      // a filter larger than the image (taps whose rows are all outside it)
      { x: [2, 9, 11, 8], f: [3, 3, 8, 16], s: 1, pad: 'same' },
      { x: [3, 6, 7, 4], f: [2, 3, 4, 8], s: 1, pad: 'valid' },
      { x: [2, 7, 7, 4], f: [3, 3, 4, 8], s: 1, pad: 1 },
      { x: [1, 2, 2, 4], f: [3, 3, 4, 8], s: 1, pad: 'same' },
    ];
  for (let i = 0; i < 6; i++) {
    const s = randInt(r, 1, 3);
    const kh = randInt(r, 1, 4);
    const kw = randInt(r, 1, 4);
    cases.push({
      x: [randInt(r, 1, 5), randInt(r, kh + 1, 12), randInt(r, kw + 1, 12), randInt(r, 1, 9)],
      f: [kh, kw, 0, randInt(r, 1, 9)],
      s,
      pad: r() < 0.5 ? 'same' : 'valid',
    });
  }
  for (const c of cases) c.f[2] = c.x[3];

  for (const [i, c] of cases.entries()) {
    it(`x ${c.x} filter ${c.f} stride ${c.s} pad ${c.pad}`, async () => {
      const info = tf.backend_util.computeConv2DInfo(
        c.x as [number, number, number, number],
        c.f as [number, number, number, number],
        c.s,
        1,
        c.pad,
      );
      const inputs: Inputs = {
        x: { values: randomArray(tf.util.sizeFromShape(c.x), 100 + i), shape: c.x },
        dy: { values: randomArray(tf.util.sizeFromShape(info.outShape), 200 + i), shape: info.outShape },
      };
      const attrs = { strides: c.s, pad: c.pad, dataFormat: 'NHWC', filterShape: c.f };
      await compareKernel(
        'Conv2DBackpropFilter',
        inputs,
        attrs,
        `default layout ${chooseFilterGradLayout(info)}`,
      );

      // every layout that applies, forced
      const ref = await runOn('cpu', 'Conv2DBackpropFilter', inputs, attrs);
      await useBackend('wasm');
      const x = tf.tensor(inputs.x.values, c.x);
      const dy = tf.tensor(inputs.dy.values, info.outShape);
      const deps = {
        matMul: tf.getKernel('BatchMatMul', 'wasm')!,
        transpose: tf.getKernel('Transpose', 'wasm')!,
      };
      const backend = tf.backend() as unknown as WasmBackendLike;
      // 'direct' and 'runs' where they do not apply fall back to a product layout: forced everywhere
      const layouts: FilterGradLayout[] = ['x-major', 'dy-rows', 'direct', 'runs'];
      expect(simdKernels(backend.wasm), 'the SIMD kernels (so that direct runs its own path)').not.toBeNull();
      if (info.strideHeight === 1 && info.strideWidth === 1) layouts.push('dy-major');
      for (const layout of layouts) {
        // whole batch, and one product per image (the chunked path with its accumulation)
        for (const chunkImages of [undefined, 1]) {
          const out = conv2dBackpropFilterImpl(backend, deps, x, dy, info, layout, chunkImages);
          const t = tf.engine().makeTensorFromTensorInfo(out);
          expect(t.shape).toEqual(c.f);
          expectClose(t.dataSync(), ref.values[0], `${layout}, chunks of ${chunkImages ?? 'auto'}`);
          t.dispose();
        }
      }
      tf.dispose([x, dy]);
    });
  }

  it('handles a larger batch of a 3x3 layer through the default path', async () => {
    // 130 images of 16x16x8 (the chunked paths are covered above with one image per product)
    const xs = [130, 16, 16, 8];
    const fs = [3, 3, 8, 4];
    const info = tf.backend_util.computeConv2DInfo(
      xs as [number, number, number, number],
      fs as [number, number, number, number],
      1,
      1,
      'same',
    );
    const inputs: Inputs = {
      x: { values: randomArray(tf.util.sizeFromShape(xs), 7), shape: xs },
      dy: { values: randomArray(tf.util.sizeFromShape(info.outShape), 8), shape: info.outShape },
    };
    await compareKernel(
      'Conv2DBackpropFilter',
      inputs,
      { strides: 1, pad: 'same', dataFormat: 'NHWC', filterShape: fs },
      'chunked',
    );
  });
});

describe('Conv2DBackpropInput (wasm) vs cpu', () => {
  const cases: { dx: number[]; f: number[]; s: number; pad: 'same' | 'valid' | number }[] = [
    { dx: [16, 14, 14, 64], f: [2, 2, 64, 32], s: 1, pad: 'same' }, // reference CNN, fast path
    { dx: [2, 9, 8, 3], f: [3, 3, 3, 5], s: 1, pad: 'same' },
    { dx: [3, 8, 8, 4], f: [3, 2, 4, 2], s: 1, pad: 'valid' },
    { dx: [2, 7, 9, 2], f: [3, 3, 2, 3], s: 1, pad: 1 },
    { dx: [2, 9, 9, 3], f: [3, 3, 3, 2], s: 2, pad: 'same' }, // stride 2: stock fallback
    { dx: [1, 10, 7, 2], f: [2, 2, 2, 4], s: 3, pad: 'valid' },
  ];
  for (const [i, c] of cases.entries()) {
    it(`dx ${c.dx} filter ${c.f} stride ${c.s} pad ${c.pad}`, async () => {
      const info = tf.backend_util.computeConv2DInfo(
        c.dx as [number, number, number, number],
        c.f as [number, number, number, number],
        c.s,
        1,
        c.pad,
      );
      const inputs: Inputs = {
        dy: { values: randomArray(tf.util.sizeFromShape(info.outShape), 300 + i), shape: info.outShape },
        filter: { values: randomArray(tf.util.sizeFromShape(c.f), 400 + i), shape: c.f },
      };
      await compareKernel(
        'Conv2DBackpropInput',
        inputs,
        { strides: c.s, pad: c.pad, dataFormat: 'NHWC', inputShape: c.dx },
        'input gradient',
      );
    });
  }
});

describe('MaxPoolGrad (wasm) vs cpu: same routing (exactly, when windows do not overlap)', () => {
  it('has its SIMD path on the single-threaded build (the 2x2/2 cases below run on it)', async () => {
    await useBackend('wasm');
    expect(simdKernels((tf.backend() as unknown as { wasm: unknown }).wasm)).not.toBeNull();
  });
  const cases: { x: number[]; f: number; s: number; pad: 'same' | 'valid' }[] = [
    { x: [16, 28, 28, 64], f: 2, s: 2, pad: 'valid' }, // reference CNN
    { x: [3, 7, 9, 5], f: 2, s: 2, pad: 'same' }, // partial windows at the edges
    { x: [2, 9, 9, 3], f: 3, s: 3, pad: 'valid' },
    { x: [2, 8, 7, 2], f: 3, s: 3, pad: 'same' },
    { x: [2, 9, 9, 3], f: 3, s: 2, pad: 'same' }, // overlapping (the stock wasm kernel gets these wrong)
    { x: [1, 6, 6, 2], f: 2, s: 1, pad: 'valid' },
  ];
  for (const [i, c] of cases.entries()) {
    for (const ties of [false, true]) {
      it(`x ${c.x} pool ${c.f} stride ${c.s} pad ${c.pad}${ties ? ' with ties and -Infinity' : ''}`, async () => {
        const size = tf.util.sizeFromShape(c.x);
        // ties: post-ReLU-like data (many exact zeros, small integers) and some -Infinity
        const values = ties
          ? randomArray(size, 500 + i, (u) =>
              u < 0.05 ? Number.NEGATIVE_INFINITY : Math.max(0, Math.round(u * 6 - 3)),
            )
          : randomArray(size, 500 + i);
        const info = tf.backend_util.computePool2DInfo(
          c.x as [number, number, number, number],
          c.f,
          c.s,
          1,
          c.pad,
        );
        await useBackend('cpu');
        const xc = tf.tensor4d(values, c.x as [number, number, number, number]);
        const y = tf.maxPool(xc, c.f, c.s, c.pad);
        const yv = y.dataSync().slice();
        tf.dispose([xc, y]);
        const inputs: Inputs = {
          dy: { values: randomArray(tf.util.sizeFromShape(info.outShape), 600 + i), shape: info.outShape },
          input: { values, shape: c.x },
          output: { values: Float32Array.from(yv), shape: info.outShape },
        };
        // overlapping windows add several float32 contributions: rounding may differ from cpu's float64 sum
        const rtol = c.f === c.s ? 0 : RTOL;
        await compareKernel(
          'MaxPoolGrad',
          inputs,
          { filterSize: c.f, strides: c.s, pad: c.pad },
          'routing',
          rtol,
        );
      });
    }
  }
});

describe('BatchMatMul and _FusedMatMul (wasm) vs cpu', () => {
  const shapes: [number, number, number][] = [
    [64, 1568, 256], // the reference CNN's Dense(256)
    [64, 256, 10],
    [7, 5, 3],
    [1, 9, 1],
  ];
  for (const [m, k, n] of shapes) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`${m}x${k} @ ${k}x${n} transposeA=${ta} transposeB=${tb}`, async () => {
        const aShape = ta ? [k, m] : [m, k];
        const bShape = tb ? [n, k] : [k, n];
        const inputs: Inputs = {
          a: { values: randomArray(m * k, m + k), shape: aShape },
          b: { values: randomArray(k * n, k + n), shape: bShape },
        };
        await compareKernel('BatchMatMul', inputs, { transposeA: ta, transposeB: tb }, 'rank 2');
        const inputs3: Inputs = {
          a: { ...inputs.a, shape: [1, ...aShape] },
          b: { ...inputs.b, shape: [1, ...bShape] },
        };
        await compareKernel('BatchMatMul', inputs3, { transposeA: ta, transposeB: tb }, 'rank 3');
        const fused: Inputs = { ...inputs3, bias: { values: randomArray(n, 3), shape: [n] } };
        await compareKernel(
          '_FusedMatMul',
          fused,
          { transposeA: ta, transposeB: tb, activation: 'relu', leakyreluAlpha: 0 },
          'fused relu',
        );
      });
    }
  }
  it('batched products (stock path) still match', async () => {
    const inputs: Inputs = {
      a: { values: randomArray(3 * 4 * 5, 1), shape: [3, 5, 4] },
      b: { values: randomArray(3 * 5 * 6, 2), shape: [3, 6, 5] },
    };
    await compareKernel('BatchMatMul', inputs, { transposeA: true, transposeB: true }, 'batched');
  });
});

describe('Sum (wasm) vs cpu', () => {
  const cases: { shape: number[]; axis: number[]; keepDims?: boolean; dtype?: 'int32' }[] = [
    { shape: [64, 28, 28, 64], axis: [0, 1, 2] }, // bias gradient of the first conv
    { shape: [64, 14, 14, 32], axis: [0, 1, 2], keepDims: true },
    { shape: [64, 256], axis: [0] },
    { shape: [5, 6, 7], axis: [1, 0] },
    { shape: [4, 5, 6], axis: [2] }, // innermost: stock
    { shape: [4, 5, 6], axis: [0, 2] }, // mixed: stock
    { shape: [6, 7], axis: [0], dtype: 'int32' }, // int32: stock
  ];
  for (const [i, c] of cases.entries()) {
    it(`shape ${c.shape} axis ${c.axis}${c.keepDims ? ' keepDims' : ''}${c.dtype ? ` ${c.dtype}` : ''}`, async () => {
      const size = tf.util.sizeFromShape(c.shape);
      const values =
        c.dtype === 'int32'
          ? Int32Array.from(randomArray(size, 700 + i), (v) => Math.round(v * 50))
          : randomArray(size, 700 + i);
      await compareKernel(
        'Sum',
        { x: { values, shape: c.shape, dtype: c.dtype ?? 'float32' } },
        { axis: c.axis, keepDims: c.keepDims ?? false },
        'sum',
      );
    });
  }
});

describe('Mean (wasm) vs cpu', () => {
  const cases: { shape: number[]; axis: number[]; keepDims?: boolean }[] = [
    { shape: [64, 28, 28, 32], axis: [0, 1, 2], keepDims: true }, // batch normalisation's moments
    { shape: [16, 14, 14, 64], axis: [0, 1, 2] },
    { shape: [64, 256], axis: [0] },
    { shape: [5, 6, 7], axis: [1, 0] },
    { shape: [4, 5, 6], axis: [2] }, // innermost: stock
    { shape: [4, 5, 6], axis: [0, 2] }, // mixed: stock
  ];
  for (const [i, c] of cases.entries()) {
    it(`shape ${c.shape} axis ${c.axis}${c.keepDims ? ' keepDims' : ''}`, async () => {
      const values = randomArray(tf.util.sizeFromShape(c.shape), 800 + i, (u) => u * 3 + 1);
      await compareKernel(
        'Mean',
        { x: { values, shape: c.shape } },
        { axis: c.axis, keepDims: c.keepDims ?? false },
        'mean',
      );
    });
  }
});

describe('Tile (wasm) vs cpu: exact', () => {
  const cases: { shape: number[]; reps: number[]; dtype?: 'int32' | 'bool' }[] = [
    { shape: [1, 1, 1, 32], reps: [64, 28, 28, 1] }, // batch normalisation's gradient
    { shape: [1, 1, 1, 5], reps: [3, 1, 2, 1] },
    { shape: [1, 7], reps: [5, 1] },
    { shape: [1, 2, 3], reps: [4, 1, 1] },
    { shape: [1, 1, 3], reps: [2, 3, 1], dtype: 'int32' },
    { shape: [1, 4], reps: [3, 1], dtype: 'bool' },
    { shape: [2, 3], reps: [2, 2] }, // repeats inside the input: stock
    { shape: [3, 1, 2], reps: [1, 4, 1] }, // stock
    { shape: [1, 3], reps: [1, 1] }, // no repeat at all
    { shape: [1, 0], reps: [4, 1] }, // empty
  ];
  for (const [i, c] of cases.entries()) {
    it(`shape ${c.shape} reps ${c.reps}${c.dtype ? ` ${c.dtype}` : ''}`, async () => {
      const size = tf.util.sizeFromShape(c.shape);
      const raw = randomArray(size, 900 + i);
      const values =
        c.dtype === 'int32'
          ? Int32Array.from(raw, (v) => Math.round(v * 50))
          : c.dtype === 'bool'
            ? Int32Array.from(raw, (v) => (v > 0 ? 1 : 0))
            : raw;
      await compareKernel(
        'Tile',
        { x: { values, shape: c.shape, dtype: c.dtype ?? 'float32' } },
        { reps: c.reps },
        'tile',
        0,
      );
    });
  }
});

describe("FashionMnistAdamStep (wasm): buildCnn's Adam in one kernel per variable", () => {
  /** Runs `steps` Adam steps on the same problem with `make()` and returns the variables' values. */
  async function train(backend: 'cpu' | 'wasm', make: () => tf.Optimizer, steps: number, sizes: number[]) {
    await useBackend(backend);
    const r = rng(77);
    const vars = sizes.map((n) =>
      tf.variable(tf.tensor(Float32Array.from({ length: n }, () => r() * 2 - 1))),
    );
    const targets = sizes.map((n) => tf.tensor(Float32Array.from({ length: n }, () => r() * 2 - 1)));
    const optimizer = make();
    const before = tf.memory().numTensors;
    for (let s = 0; s < steps; s++) {
      const loss = () =>
        tf.tidy(() => {
          const terms = vars.map((v, i) => tf.sum(tf.mul(tf.square(tf.sub(v, targets[i]!)), s + 1)));
          return tf.addN(terms) as tf.Scalar;
        });
      optimizer.minimize(loss);
    }
    const grown = tf.memory().numTensors - before;
    const values = vars.map((v) => Float32Array.from(v.dataSync()));
    optimizer.dispose();
    tf.dispose([...vars, ...targets]);
    return { values, grown };
  }
  // sizes with SIMD bodies and scalar tails (1, 3, 5, 257) and a large one
  const sizes = [1, 3, 4, 5, 257, 1568 * 64];

  it('is registered by installWasmTrainingKernels and takes the same steps as tfjs Adam on cpu', async () => {
    expect(tf.getKernel('FashionMnistAdamStep', 'wasm')).toBeDefined();
    const ours = await train('wasm', () => new ScheduledAdam(0.01), 7, sizes);
    const reference = await train('cpu', () => tf.train.adam(0.01, 0.9, 0.999, 1e-7), 7, sizes);
    ours.values.forEach((v, i) => {
      expectClose(v, reference.values[i]!, `variable ${i}`, 1e-6);
    });
    // the optimizer's state (2 moments per variable, 2 accumulators) is all it keeps
    expect(ours.grown).toBe(2 * sizes.length + 2);
  });

  it('gives the bits of the same optimizer without the kernel (tfjs ops on wasm), also after a rate change', async () => {
    const run = () => {
      const o = new ScheduledAdam(0.02);
      const minimize = o.minimize.bind(o);
      let calls = 0;
      o.minimize = ((...a: Parameters<typeof minimize>) => {
        if (++calls === 4) o.setLearningRate(0.005);
        return minimize(...a);
      }) as typeof o.minimize;
      return o;
    };
    const fused = await train('wasm', run, 6, sizes);
    const stockKernel = tf.getKernel('FashionMnistAdamStep', 'wasm')!;
    tf.unregisterKernel('FashionMnistAdamStep', 'wasm');
    try {
      const plain = await train('wasm', run, 6, sizes);
      fused.values.forEach((v, i) => {
        expect(Array.from(v), `variable ${i}`).toEqual(Array.from(plain.values[i]!));
      });
    } finally {
      tf.registerKernel(stockKernel);
    }
  });
});

describe('Identity and Cast (wasm): zero-copy, independent lifetimes', () => {
  it('a clone outlives its source and a same-dtype cast keeps the values', async () => {
    await useBackend('wasm');
    const a = tf.tensor([1.5, -2, 3]);
    const b = tf.clone(a);
    const c = tf.cast(a, 'float32');
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1.5, -2, 3]);
    expect(Array.from(c.dataSync())).toEqual([1.5, -2, 3]);
    const d = tf.cast(b, 'int32');
    expect(d.dtype).toBe('int32');
    expect(Array.from(d.dataSync())).toEqual([1, -2, 3]);
    tf.dispose([b, c, d]);
  });
});

describe('gradients on wasm vs central finite differences', () => {
  // Each loss is (piecewise) linear in the variable being checked, so a central difference with a
  // step that stays inside one linear piece is exact up to float32 rounding of the loss.
  async function numericGrad(f: (v: tf.Tensor) => tf.Scalar, v: Float32Array, shape: number[], eps: number) {
    const g = new Float32Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const plus = v.slice();
      const minus = v.slice();
      plus[i] += eps;
      minus[i] -= eps;
      const fp = tf.tidy(() => f(tf.tensor(plus, shape)).dataSync()[0]);
      const fm = tf.tidy(() => f(tf.tensor(minus, shape)).dataSync()[0]);
      g[i] = (fp - fm) / (2 * eps);
    }
    return g;
  }

  it('conv2d: filter and input gradients (stride 1 and 2, same and valid)', async () => {
    await useBackend('wasm');
    // 3 → 2 channels: the product layouts; 4 → 8 with stride 1: the 'runs' SIMD kernel
    for (const [s, pad, xs, fs] of [
      [1, 'same', [2, 5, 6, 3], [2, 3, 3, 2]],
      [2, 'valid', [2, 5, 6, 3], [2, 3, 3, 2]],
      [1, 'valid', [2, 5, 6, 3], [2, 3, 3, 2]],
      [1, 'same', [2, 5, 6, 4], [2, 3, 4, 8]],
      [1, 'valid', [1, 4, 5, 4], [3, 2, 4, 8]],
    ] as const) {
      const xv = randomArray(tf.util.sizeFromShape([...xs]), 31);
      const wv = randomArray(tf.util.sizeFromShape([...fs]), 32);
      const info = tf.backend_util.computeConv2DInfo(xs as never, fs as never, s, 1, pad);
      const rv = randomArray(tf.util.sizeFromShape(info.outShape), 33);
      const R = tf.tensor(rv, info.outShape);
      const x = tf.tensor4d(xv, [...xs] as [number, number, number, number]);
      const w = tf.tensor4d(wv, [...fs] as [number, number, number, number]);
      const loss = (xx: tf.Tensor, ww: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, s, pad), R));
      const [gx, gw] = tf.grads(loss)([x, w]);
      const nx = await numericGrad((v) => loss(v, w) as tf.Scalar, xv, [...xs], 0.5);
      const nw = await numericGrad((v) => loss(x, v) as tf.Scalar, wv, [...fs], 0.5);
      expectClose(gx.dataSync(), nx, `dx stride ${s} ${pad}`, 1e-4);
      expectClose(gw.dataSync(), nw, `dw stride ${s} ${pad}`, 1e-4);
      tf.dispose([R, x, w, gx, gw]);
    }
  });

  it('maxPool (2x2/2, 3x3/3 and overlapping 3x3/2) input gradient', async () => {
    await useBackend('wasm');
    for (const [f, s, pad] of [
      [2, 2, 'valid'],
      [3, 3, 'same'],
      [3, 2, 'same'],
    ] as const) {
      const xs = [2, 7, 8, 3];
      // distinct values at least 1e-3 apart so that a 1e-4 step never changes a window's maximum
      const r = rng(41);
      const perm = Array.from({ length: tf.util.sizeFromShape(xs) }, (_, i) => i).sort(() => r() - 0.5);
      const xv = Float32Array.from(perm, (p) => p * 1e-3);
      const info = tf.backend_util.computePool2DInfo(xs as never, f, s, 1, pad);
      const R = tf.tensor(randomArray(tf.util.sizeFromShape(info.outShape), 42), info.outShape);
      const loss = (v: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(v as tf.Tensor4D, f, s, pad), R)) as tf.Scalar;
      const x = tf.tensor(xv, xs);
      const g = tf.grad(loss)(x);
      const n = await numericGrad(loss, xv, xs, 1e-4);
      expectClose(g.dataSync(), n, `maxPool ${f}/${s} ${pad}`, 2e-3);
      tf.dispose([R, x, g]);
    }
  });

  it('batch normalisation in training (tfjs-layers): input, gamma and beta gradients', async () => {
    // The loss is smooth, not piecewise linear: float32 central differences with a 1e-2 step agree to ~1e-3
    // of the largest gradient; the wasm gradients must also match the cpu backend's to float32 rounding.
    const xs = [3, 4, 4, 5];
    const xv = randomArray(tf.util.sizeFromShape(xs), 61, (u) => u * 4 - 1);
    const rv = randomArray(tf.util.sizeFromShape(xs), 62);
    const gv = randomArray(5, 63, (u) => u + 0.5);
    const bv = randomArray(5, 64);
    const run = async (backend: 'cpu' | 'wasm') => {
      await useBackend(backend);
      const R = tf.tensor(rv, xs);
      // the training-mode computation of tfjs-layers' BatchNormalization (normalizeBatchInTraining)
      const loss = (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) =>
        tf.tidy(() => {
          const { mean, variance } = tf.moments(x, [0, 1, 2]);
          return tf.sum(tf.mul(tf.batchNorm(x, mean, variance, beta, gamma, 1e-3), R)) as tf.Scalar;
        });
      const x = tf.tensor(xv, xs);
      const gamma = tf.tensor(gv, [5]);
      const beta = tf.tensor(bv, [5]);
      const grads = tf.grads(loss)([x, gamma, beta]);
      const values = grads.map((g) => Float32Array.from(g.dataSync()));
      const numeric = [
        await numericGrad((v) => loss(v, gamma, beta), xv, xs, 1e-2),
        await numericGrad((v) => loss(x, v, beta), gv, [5], 1e-2),
        await numericGrad((v) => loss(x, gamma, v), bv, [5], 1e-2),
      ];
      tf.dispose([R, x, gamma, beta, ...grads]);
      return { values, numeric };
    };
    const cpu = await run('cpu');
    const wasm = await run('wasm');
    ['dx', 'dgamma', 'dbeta'].forEach((name, i) => {
      expectClose(wasm.values[i]!, cpu.values[i]!, `${name} wasm vs cpu`, 1e-4);
      expectClose(wasm.values[i]!, wasm.numeric[i]!, `${name} vs finite differences`, 5e-3);
    });
  });

  it('matMul (all transpose combinations) and bias sum', async () => {
    await useBackend('wasm');
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      const [m, k, n] = [3, 4, 5];
      const av = randomArray(m * k, 51);
      const bv = randomArray(k * n, 52);
      const aShape = ta ? [k, m] : [m, k];
      const bShape = tb ? [n, k] : [k, n];
      const R = tf.tensor(randomArray(m * n, 53), [m, n]);
      const bias = tf.tensor(randomArray(n, 54), [n]);
      const loss = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(tf.mul(tf.add(tf.matMul(a, b, ta, tb), c), R)) as tf.Scalar;
      const a = tf.tensor(av, aShape);
      const b = tf.tensor(bv, bShape);
      const [ga, gb, gc] = tf.grads(loss)([a, b, bias]);
      expectClose(ga.dataSync(), await numericGrad((v) => loss(v, b, bias), av, aShape, 0.5), 'da', 1e-4);
      expectClose(gb.dataSync(), await numericGrad((v) => loss(a, v, bias), bv, bShape, 0.5), 'db', 1e-4);
      const biasV = Float32Array.from(bias.dataSync());
      expectClose(gc.dataSync(), await numericGrad((v) => loss(a, b, v), biasV, [n], 0.5), 'dbias', 1e-4);
      tf.dispose([R, bias, a, b, ga, gb, gc]);
    }
  });
});

describe('no leaks: engine tensors and wasm storage', () => {
  it('every kernel frees its temporaries', async () => {
    await useBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const x = tf.tensor(randomArray(4 * 10 * 10 * 6, 1), [4, 10, 10, 6]) as tf.Tensor4D;
    const w = tf.tensor(randomArray(3 * 3 * 6 * 5, 2), [3, 3, 6, 5]) as tf.Tensor4D;
    const a = tf.tensor(randomArray(12, 3), [3, 4]);
    const b = tf.tensor(randomArray(20, 4), [5, 4]);
    const bias = tf.tensor(randomArray(5, 5), [5]);
    const ops: [string, () => tf.Tensor | tf.Tensor[]][] = [
      [
        'conv2d grads s1',
        () =>
          tf.grads((p: tf.Tensor, q: tf.Tensor) =>
            tf.sum(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 1, 'same')),
          )([x, w]),
      ],
      [
        'conv2d grads s2',
        () =>
          tf.grads((p: tf.Tensor, q: tf.Tensor) =>
            tf.sum(tf.conv2d(p as tf.Tensor4D, q as tf.Tensor4D, 2, 'valid')),
          )([x, w]),
      ],
      [
        'maxPool grad',
        () => tf.grad((p: tf.Tensor) => tf.sum(tf.maxPool(p as tf.Tensor4D, 2, 2, 'same')))(x),
      ],
      [
        'maxPool grad overlapping',
        () => tf.grad((p: tf.Tensor) => tf.sum(tf.maxPool(p as tf.Tensor4D, 3, 2, 'same')))(x),
      ],
      ['matMul transposeB', () => tf.matMul(a, b, false, true)],
      ['matMul transposeA', () => tf.matMul(a, a, true, false)],
      ['fused matMul', () => tf.fused.matMul({ a, b, transposeB: true, bias, activation: 'relu' })],
      [
        'filter grad, direct (1 channel, 16 filters)',
        () =>
          tf.tidy(() => {
            const one = tf.slice(x, [0, 0, 0, 0], [4, 10, 10, 1]) as tf.Tensor4D;
            const k = tf.zeros([2, 2, 1, 16]) as tf.Tensor4D;
            return tf.grad((q: tf.Tensor) => tf.sum(tf.conv2d(one, q as tf.Tensor4D, 1, 'same')))(k);
          }),
      ],
      ['sum leading', () => tf.sum(x, [0, 1, 2])],
      ['sum leading rank 2', () => tf.sum(a, 0)],
      ['sum stock', () => tf.sum(x, [3])],
      ['mean leading', () => tf.mean(x, [0, 1, 2], true)],
      ['mean stock', () => tf.mean(x, [3])],
      ['tile broadcast', () => tf.tidy(() => tf.tile(tf.reshape(bias, [1, 1, 1, 5]), [4, 10, 10, 1]))],
      ['tile stock', () => tf.tile(a, [2, 2])],
      [
        'batch norm grads',
        () =>
          tf.tidy(() =>
            tf.grads((p: tf.Tensor) => {
              const { mean, variance } = tf.moments(p, [0, 1, 2]);
              return tf.sum(tf.batchNorm(p, mean, variance, tf.zerosLike(mean), tf.onesLike(mean), 1e-3));
            })([x]),
          ),
      ],
      ['identity', () => tf.clone(x)],
      ['cast', () => tf.cast(x, 'float32')],
      [
        'filter grad, chunked',
        () => {
          const big = tf.zeros([200, 16, 16, 8]) as tf.Tensor4D;
          const k = tf.zeros([3, 3, 8, 4]) as tf.Tensor4D;
          const g = tf.grad((q: tf.Tensor) => tf.sum(tf.conv2d(big, q as tf.Tensor4D, 1, 'same')))(k);
          tf.dispose([big, k]);
          return g;
        },
      ],
    ];
    for (const [, op] of ops) tf.dispose(op()); // warm up: first calls may create cached state
    for (const [name, op] of ops) {
      const tensors = tf.memory().numTensors;
      const ids = backend.numDataIds();
      tf.dispose(op());
      expect(tf.memory().numTensors, `${name}: engine tensors`).toBe(tensors);
      expect(backend.numDataIds(), `${name}: wasm storage`).toBe(ids);
    }
    tf.dispose([x, w, a, b, bias]);
  });
});

describe('uninstallWasmTrainingKernels', () => {
  it('restores the stock kernels (no filter gradient) and reinstalling works again', async () => {
    await useBackend('wasm');
    expect(uninstallWasmTrainingKernels()).toBe(true);
    expect(uninstallWasmTrainingKernels()).toBe(false);
    expect(tf.getKernel('Conv2DBackpropFilter', 'wasm')).toBeUndefined();
    const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
    const w = tf.ones([2, 2, 1, 1]) as tf.Tensor4D;
    expect(() => tf.grad((q: tf.Tensor) => tf.sum(tf.conv2d(x, q as tf.Tensor4D, 1, 'same')))(w)).toThrow(
      /Conv2DBackpropFilter/,
    );
    const report = installWasmTrainingKernels();
    expect(report.alreadyInstalled).toBe(false);
    expect(report.replaced).not.toContain('Conv2DBackpropFilter');
    const g = tf.grad((q: tf.Tensor) => tf.sum(tf.conv2d(x, q as tf.Tensor4D, 1, 'same')))(w);
    // every filter tap sees all 16 pixels except where 'same' padding (bottom/right) cuts it off
    expect(Array.from(g.dataSync())).toEqual([16, 12, 12, 9]);
    tf.dispose([x, w, g]);
  });
});
