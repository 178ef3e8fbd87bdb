// The fused first block (FashionMnistConvReluPool / FashionMnistConvReluPoolGrad) against the cpu backend's
// composition tf.maxPool(tf.relu(tf.add(tf.conv2d(x, filter, 1, pad), bias)), 2, 2, 'valid') and its tf.grads,
// the plain-JS path against the SIMD one, leaks, and central finite differences.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-layers'; // registers the gradients used by tf.grads
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeConvReluPool, makeConvReluPoolGrad } from '../../src/backend/wasm/conv_relu_pool.js';
import { installWasmTrainingKernels } from '../../src/backend/wasm/install.js';
import { simdKernels } from '../../src/backend/wasm/simd.js';
import { CONV_RELU_POOL_GRAD_KERNEL, CONV_RELU_POOL_KERNEL } from '../../src/internal/kernel-names.js';
import { useBackend } from '../helpers/backends.js';
import { mulberry32 as rng } from '../helpers/rng.js';

const RTOL = 2e-5;
const ATOL = 1e-6;
const JS_FORWARD = 'TestConvReluPoolJs';
const JS_GRAD = 'TestConvReluPoolGradJs';

function randomArray(size: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

function expectClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  what: string,
  rtol = RTOL,
): void {
  expect(actual.length, what).toBe(expected.length);
  let err = 0;
  let max = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]! - expected[i]!);
    if (!(d <= err)) err = d;
    max = Math.max(max, Math.abs(expected[i]!));
  }
  const bound = rtol * max + ATOL;
  expect(err <= bound, `${what}: max |got - want| = ${err} > ${bound}`).toBe(true);
}

/** Exact equality (Object.is per element) without a slow diff of large arrays: reports the first mismatch. */
function expectSame(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  let bad = -1;
  let count = 0;
  for (let i = 0; i < actual.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      if (bad < 0) bad = i;
      count++;
    }
  }
  expect(count, `${what}: ${count} differ, first at ${bad}: ${actual[bad]} vs ${expected[bad]}`).toBe(0);
}

interface Case {
  n: number;
  h: number;
  w: number;
  co: number;
  k: number;
  pad: 'same' | 'valid';
  /** constant input (ties in every interior window) */
  constant?: boolean;
}

interface Data {
  x: Float32Array;
  f: Float32Array;
  b: Float32Array;
  xs: [number, number, number, number];
  fs: [number, number, number, number];
  attrs: { padTop: number; padLeft: number; outHeight: number; outWidth: number };
  pooledShape: [number, number, number, number];
}

function makeData(c: Case, seed: number): Data {
  const xs: [number, number, number, number] = [c.n, c.h, c.w, 1];
  const fs: [number, number, number, number] = [c.k, c.k, 1, c.co];
  const info = tf.backend_util.computeConv2DInfo(xs, fs, 1, 1, c.pad);
  const x = c.constant
    ? new Float32Array(c.n * c.h * c.w).fill(0.5)
    : randomArray(c.n * c.h * c.w, seed, 0, 1);
  return {
    x,
    f: randomArray(c.k * c.k * c.co, seed + 1),
    // biases down to -1: with inputs in [0, 1) some windows are all negative
    b: randomArray(c.co, seed + 2, -1, 0.4),
    xs,
    fs,
    attrs: {
      padTop: info.padInfo.top,
      padLeft: info.padInfo.left,
      outHeight: info.outHeight,
      outWidth: info.outWidth,
    },
    pooledShape: [c.n, Math.floor(info.outHeight / 2), Math.floor(info.outWidth / 2), c.co],
  };
}

/** The cpu composition: pooled output, the routing codes derived from conv + bias, and the gradients for dy. */
async function reference(c: Case, d: Data, dy: Float32Array) {
  await useBackend('cpu');
  const x = tf.tensor4d(d.x, d.xs);
  const f = tf.tensor4d(d.f, d.fs);
  const b = tf.tensor1d(d.b);
  const R = tf.tensor(dy, d.pooledShape);
  const forward = (ff: tf.Tensor, bb: tf.Tensor) =>
    tf.maxPool(tf.relu(tf.add(tf.conv2d(x, ff as tf.Tensor4D, 1, c.pad), bb)) as tf.Tensor4D, 2, 2, 'valid');
  const pooled = forward(f, b);
  const z = tf.add(tf.conv2d(x, f, 1, c.pad), b);
  const [gf, gb] = tf.grads((ff: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(forward(ff, bb), R)))([f, b]);
  const out = {
    pooled: pooled.dataSync().slice(),
    z: z.dataSync().slice(),
    dFilter: gf!.dataSync().slice(),
    dBias: gb!.dataSync().slice(),
  };
  tf.dispose([x, f, b, R, pooled, z, gf!, gb!]);
  return out;
}

/**
 * Checks the kernel's codes against the cpu's conv + bias `z` [N, OH, OW, Co]: equal, except where the cpu's
 * values are within `tol` of a tie (or of 0), where float32 rounding may decide either way (the cpu rounds
 * x*w + acc once, in float64 then float32; the kernel rounds the product too). Returns the number of windows
 * routed somewhere and of windows with no gradient, and how many near-ties differed.
 */
function checkCodes(got: Uint8Array, z: ArrayLike<number>, d: Data, tol: number) {
  const [N, PH, PW, Co] = d.pooledShape;
  const { outHeight: OH, outWidth: OW } = d.attrs;
  let routed = 0;
  let none = 0;
  let nearTies = 0;
  let wrong = '';
  for (let n = 0; n < N; n++)
    for (let ph = 0; ph < PH; ph++)
      for (let pw = 0; pw < PW; pw++)
        for (let c = 0; c < Co; c++) {
          const v = [0, 1, 2, 3].map(
            (k) => z[((n * OH + 2 * ph + (k >> 1)) * OW + 2 * pw + (k & 1)) * Co + c]!,
          );
          let best = Number.NEGATIVE_INFINITY;
          let code = 0;
          for (let k = 0; k < 4; k++) {
            if (v[k]! > best) {
              best = v[k]!;
              code = k;
            }
          }
          const want = best > 0 ? code : 255;
          const k = got[((n * PH + ph) * PW + pw) * Co + c]!;
          if (want === 255) none++;
          else routed++;
          if (k === want) continue;
          const gotValue = k === 255 ? 0 : v[k]!;
          const ok = (k === 255 ? Math.abs(best) : Math.abs(gotValue - Math.max(best, 0))) <= tol;
          if (ok) nearTies++;
          else if (wrong === '') wrong = `window ${[n, ph, pw, c]}: code ${k}, want ${want} (z = ${v})`;
        }
  expect(wrong, 'codes').toBe('');
  return { routed, none, nearTies };
}

/** dFilter and dBias for the routing `codes`, summed in float64. */
function routedGrad(codes: Uint8Array, d: Data, dy: Float32Array) {
  const [N, PH, PW, Co] = d.pooledShape;
  const [, H, W] = d.xs;
  const [KH, KW] = d.fs;
  const { padTop, padLeft } = d.attrs;
  const dFilter = new Float64Array(KH * KW * Co);
  const dBias = new Float64Array(Co);
  for (let n = 0; n < N; n++)
    for (let ph = 0; ph < PH; ph++)
      for (let pw = 0; pw < PW; pw++)
        for (let c = 0; c < Co; c++) {
          const i = ((n * PH + ph) * PW + pw) * Co + c;
          const k = codes[i]!;
          if (k === 255) continue;
          dBias[c]! += dy[i]!;
          const oh = 2 * ph + (k >> 1);
          const ow = 2 * pw + (k & 1);
          for (let kh = 0; kh < KH; kh++)
            for (let kw = 0; kw < KW; kw++) {
              const r = oh + kh - padTop;
              const q = ow + kw - padLeft;
              if (r < 0 || r >= H || q < 0 || q >= W) continue;
              dFilter[(kh * KW + kw) * Co + c]! += dy[i]! * d.x[(n * H + r) * W + q]!;
            }
        }
  return { dFilter, dBias };
}

/** Runs the forward and gradient kernels (by name) on wasm. */
async function runFused(d: Data, dy: Float32Array, forwardName: string, gradName: string) {
  await useBackend('wasm');
  const x = tf.tensor4d(d.x, d.xs);
  const f = tf.tensor4d(d.f, d.fs);
  const b = tf.tensor1d(d.b);
  const dyt = tf.tensor(dy, d.pooledShape);
  const [pooled, argmax] = tf
    .engine()
    .runKernel(forwardName, { x, filter: f, bias: b }, { ...d.attrs }) as tf.Tensor[];
  const [gf, gb] = tf
    .engine()
    .runKernel(
      gradName,
      { x, dy: dyt, argmax: argmax! },
      { ...d.attrs, filterHeight: d.fs[0], filterWidth: d.fs[1] },
    ) as tf.Tensor[];
  const out = {
    pooledShape: pooled!.shape,
    argmaxShape: argmax!.shape,
    argmaxDtype: argmax!.dtype,
    pooled: (pooled!.dataSync() as Float32Array).slice(),
    codes: new Uint8Array((argmax!.dataSync() as Int32Array).slice().buffer),
    dFilterShape: gf!.shape,
    dFilter: (gf!.dataSync() as Float32Array).slice(),
    dBias: (gb!.dataSync() as Float32Array).slice(),
  };
  tf.dispose([x, f, b, dyt, pooled!, argmax!, gf!, gb!]);
  return out;
}

beforeAll(async () => {
  await useBackend('wasm');
  installWasmTrainingKernels();
  tf.registerKernel({ kernelName: JS_FORWARD, backendName: 'wasm', kernelFunc: makeConvReluPool('js') });
  tf.registerKernel({ kernelName: JS_GRAD, backendName: 'wasm', kernelFunc: makeConvReluPoolGrad('js') });
});

afterAll(() => {
  tf.unregisterKernel(JS_FORWARD, 'wasm');
  tf.unregisterKernel(JS_GRAD, 'wasm');
});

const cases: Case[] = [
  { n: 1, h: 28, w: 28, co: 4, k: 2, pad: 'same' },
  { n: 3, h: 7, w: 9, co: 4, k: 3, pad: 'same' },
  { n: 3, h: 7, w: 9, co: 64, k: 2, pad: 'valid' },
  { n: 3, h: 9, w: 7, co: 8, k: 2, pad: 'same' },
  { n: 3, h: 28, w: 28, co: 64, k: 3, pad: 'same' },
  { n: 3, h: 9, w: 7, co: 8, k: 2, pad: 'same', constant: true },
  { n: 1, h: 7, w: 9, co: 4, k: 3, pad: 'same', constant: true },
  { n: 64, h: 28, w: 28, co: 64, k: 2, pad: 'same' }, // the reference CNN's first block
];

describe('FashionMnistConvReluPool(Grad) (wasm) vs the cpu composition', () => {
  it('has its SIMD path on the single-threaded build', async () => {
    await useBackend('wasm');
    const simd = simdKernels((tf.backend() as unknown as { wasm: unknown }).wasm);
    expect(simd?.convReluPool).toBeTypeOf('function');
    expect(simd?.convReluPoolGrad).toBeTypeOf('function');
    expect(tf.getKernel(CONV_RELU_POOL_KERNEL, 'wasm')).toBeDefined();
    expect(tf.getKernel(CONV_RELU_POOL_GRAD_KERNEL, 'wasm')).toBeDefined();
  });

  for (const [i, c] of cases.entries()) {
    const label = `x [${c.n},${c.h},${c.w},1] filter ${c.k}x${c.k}x1x${c.co} ${c.pad}${c.constant ? ' constant input (ties)' : ''}`;
    it(label, { timeout: 60_000 }, async () => {
      const d = makeData(c, 100 + 10 * i);
      const dy = randomArray(tf.util.sizeFromShape(d.pooledShape), 200 + i);
      const ref = await reference(c, d, dy);
      const got = await runFused(d, dy, CONV_RELU_POOL_KERNEL, CONV_RELU_POOL_GRAD_KERNEL);
      expect(got.pooledShape).toEqual(d.pooledShape);
      expect(got.argmaxShape).toEqual([...d.pooledShape.slice(0, 3), c.co / 4]);
      expect(got.argmaxDtype).toBe('int32');
      expect(got.dFilterShape).toEqual(d.fs);
      // the conv sums differ from the cpu's by float32 rounding only (a few ulp of the largest term)
      const zTol = 1e-6 * d.fs[0] * d.fs[1];
      expectClose(got.pooled, ref.pooled, 'pooled', 1e-6);
      const { routed, none, nearTies } = checkCodes(got.codes, ref.z, d, zTol);
      if (!c.constant) {
        // the data exercise both branches: some windows routed, some all <= 0
        expect(routed).toBeGreaterThan(0);
        expect(none).toBeGreaterThan(0);
      } else {
        // identical windows compute identical sums: the ties resolve exactly as on cpu
        expect(nearTies).toBe(0);
      }
      // the gradients of the kernel's own routing, in float64
      const own = routedGrad(got.codes, d, dy);
      expectClose(got.dFilter, own.dFilter, 'dFilter vs float64 of the same routing');
      expectClose(got.dBias, own.dBias, 'dBias vs float64 of the same routing');
      // and tf.grads on cpu (the same routing unless a near-tie went the other way)
      const rtol = nearTies === 0 ? RTOL : 1e-2;
      expectClose(got.dFilter, ref.dFilter, 'dFilter', rtol);
      expectClose(got.dBias, ref.dBias, 'dBias', rtol);

      const js = await runFused(d, dy, JS_FORWARD, JS_GRAD);
      expectSame(js.pooled, got.pooled, 'js pooled');
      expectSame(js.codes, got.codes, 'js codes');
      expectSame(js.dFilter, got.dFilter, 'js dFilter');
      expectSame(js.dBias, got.dBias, 'js dBias');
    });
  }

  it('rejects bad shapes', async () => {
    await useBackend('wasm');
    const x = tf.zeros([1, 4, 4, 1]);
    const f = tf.zeros([2, 2, 1, 6]);
    const b = tf.zeros([6]);
    const attrs = { padTop: 0, padLeft: 0, outHeight: 4, outWidth: 4 };
    expect(() => tf.engine().runKernel(CONV_RELU_POOL_KERNEL, { x, filter: f, bias: b }, attrs)).toThrow(
      /multiple of 4/,
    );
    tf.dispose([x, f, b]);
  });
});

describe('FashionMnistConvReluPool(Grad): leaks and finite differences', () => {
  it('frees its scratch: engine tensors and wasm storage', async () => {
    await useBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const d = makeData({ n: 2, h: 8, w: 8, co: 8, k: 2, pad: 'same' }, 7);
    const x = tf.tensor4d(d.x, d.xs);
    const f = tf.tensor4d(d.f, d.fs);
    const b = tf.tensor1d(d.b);
    const dy = tf.ones(d.pooledShape);
    for (const [fwd, grad] of [
      [CONV_RELU_POOL_KERNEL, CONV_RELU_POOL_GRAD_KERNEL],
      [JS_FORWARD, JS_GRAD],
    ] as const) {
      const tensors = tf.memory().numTensors;
      const ids = backend.numDataIds();
      const outs = tf.engine().runKernel(fwd, { x, filter: f, bias: b }, { ...d.attrs }) as tf.Tensor[];
      const grads = tf
        .engine()
        .runKernel(
          grad,
          { x, dy, argmax: outs[1]! },
          { ...d.attrs, filterHeight: 2, filterWidth: 2 },
        ) as tf.Tensor[];
      expect(tf.memory().numTensors).toBe(tensors + 4);
      expect(backend.numDataIds()).toBe(ids + 4);
      tf.dispose([...outs, ...grads]);
      expect(tf.memory().numTensors, fwd).toBe(tensors);
      expect(backend.numDataIds(), fwd).toBe(ids);
    }
    tf.dispose([x, f, b, dy]);
  });

  it('dFilter and dBias match central differences of sum(dy * pooled)', async () => {
    await useBackend('wasm');
    const d = makeData({ n: 2, h: 5, w: 6, co: 4, k: 2, pad: 'same' }, 11);
    const dy = randomArray(tf.util.sizeFromShape(d.pooledShape), 12);
    const x = tf.tensor4d(d.x, d.xs);
    const loss = (fv: Float32Array, bv: Float32Array): number => {
      const f = tf.tensor4d(fv, d.fs);
      const b = tf.tensor1d(bv);
      const [p, a] = tf
        .engine()
        .runKernel(CONV_RELU_POOL_KERNEL, { x, filter: f, bias: b }, { ...d.attrs }) as tf.Tensor[];
      const pv = p!.dataSync();
      let s = 0;
      for (let i = 0; i < pv.length; i++) s += pv[i]! * dy[i]!;
      tf.dispose([f, b, p!, a!]);
      return s;
    };
    const eps = 1e-2;
    const numeric = (which: 'f' | 'b'): Float32Array => {
      const v = which === 'f' ? d.f : d.b;
      const g = new Float32Array(v.length);
      for (let i = 0; i < v.length; i++) {
        const plus = v.slice();
        const minus = v.slice();
        plus[i]! += eps;
        minus[i]! -= eps;
        const lp = which === 'f' ? loss(plus, d.b) : loss(d.f, plus);
        const lm = which === 'f' ? loss(minus, d.b) : loss(d.f, minus);
        g[i] = (lp - lm) / (2 * eps);
      }
      return g;
    };
    const got = await runFused(d, dy, CONV_RELU_POOL_KERNEL, CONV_RELU_POOL_GRAD_KERNEL);
    await useBackend('wasm');
    expectClose(got.dFilter, numeric('f'), 'dFilter vs finite differences', 1e-3);
    expectClose(got.dBias, numeric('b'), 'dBias vs finite differences', 1e-3);
    tf.dispose(x);
  });
});
