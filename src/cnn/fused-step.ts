// A training step without the gradient tape, for the sequential convolutional networks that buildCnn makes.
//
// Why: on wasm, model.trainOnBatch spends its time in three places that the tape cannot avoid. (1) About 170
// kernel calls per batch of the reference CNN and the tape's bookkeeping around each (~11 ms of the ~64 ms of a
// batch of 64, measured with tf.profile); (2) unfused forward ops (tfjs-core only fuses bias and activation
// outside a gradient tape), each a pass over the activation; (3) the first block, Conv2D(64, one input channel) →
// ReLU → MaxPool, whose 64×28×28×64 activation is written and read by nine kernels (Conv2D, Add, Relu, MaxPool;
// MaxPoolGrad, Step, Multiply, Sum, Conv2DBackpropFilter: ~14 ms) although the block's gradient needs only the
// pooled positions. Here the forward pass runs fused ops, each layer's gradient is written out by hand (the
// same formulas as tfjs-core's gradients), and on wasm the first block is one kernel each way
// (FashionMnistConvReluPool / ...Grad of src/backend/wasm/conv_relu_pool.ts).
//
// It is used by trainCnn (and the replicas of a worker pool) when `fusedStepPlan` accepts the model: a
// tf.Sequential of Conv2D (stride 1, no dilation, relu or linear), MaxPooling2D, the library's SeededDropout
// (no noise shape), Flatten and Dense (relu or linear), ending in a Dense softmax; compiled with categorical
// cross-entropy and accuracy; no regularisers or constraints; every weight trainable and float32; on the cpu or
// wasm backend (the two it is tested on). Anything else trains with model.trainOnBatch. Results agree with the
// tape to float32 rounding (test/cnn/fused-step.test.ts: loss, accuracy and every gradient on cpu and wasm; the
// dropout masks are drawn from the same stream in the same order, so a seeded run draws the same masks).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { FashionMnistError } from '../errors.js';
import { CONV_RELU_POOL_GRAD_KERNEL, CONV_RELU_POOL_KERNEL } from '../internal/kernel-names.js';
import { createRandomSource, freshSeed, type RandomSource } from '../internal/random.js';
import { dropoutMaskTensor, SeededDropout } from './dropout.js';
import { canApplyGradients, compiledLoss } from './layers.js';

/** The clipping epsilon of tfjs-layers' categorical cross-entropy (its `epsilon()`). */
const CE_EPSILON = 1e-7;
/** The backends the plan is tested on; others train with the tape. */
const PLAN_BACKENDS = new Set(['cpu', 'wasm']);

type Activation = 'relu' | 'linear';
type Variable = tfl.LayerVariable;

type Stage =
  | {
      kind: 'conv';
      kernel: Variable;
      bias: Variable | undefined;
      relu: boolean;
      pad: 'same' | 'valid';
    }
  | {
      // Conv2D with one input channel + bias + ReLU, then MaxPooling2D 2×2 stride 2 'valid', as the first stage
      kind: 'convReluPool';
      kernel: Variable;
      bias: Variable;
      pad: 'same' | 'valid';
    }
  | { kind: 'pool'; size: [number, number]; strides: [number, number]; pad: 'same' | 'valid' }
  | { kind: 'dropout'; rate: number }
  | { kind: 'flatten' }
  | { kind: 'dense'; kernel: Variable; bias: Variable | undefined; activation: Activation | 'softmax' };

/**
 * The loss, accuracy and gradients of one batch (gradients in `model.trainableWeights` order; the caller
 * disposes them).
 */
export interface FusedGradients {
  loss: number;
  acc: number;
  grads: tf.Tensor[];
}

/** A compiled training step for one model; see the file comment. */
export interface FusedStepPlan {
  /** Whether the first block runs as one wasm kernel each way (false: unfused ops). */
  readonly fusedFirstBlock: boolean;
  /**
   * Loss (mean categorical cross-entropy), accuracy and gradients of a batch in training mode; the dropout
   * layers draw their mask keys from `random` in layer order, as SeededDropout does (a fresh unseeded source
   * when undefined).
   */
  gradients(xs: tf.Tensor4D, ys: tf.Tensor2D, random: RandomSource | undefined): FusedGradients;
  /** `gradients`, then one `applyGradients` of the model's optimizer: what `model.trainOnBatch` does. */
  trainOnBatch(xs: tf.Tensor4D, ys: tf.Tensor2D, random: RandomSource | undefined): [number, number];
}

type ConfigValue = tf.serialization.ConfigDictValue;

function pair(v: ConfigValue, fallback: number): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number') {
    return [v[0], v[1]];
  }
  return [fallback, fallback];
}

/** True when a layer config has no regulariser or constraint (the plan does not apply them). */
function plain(config: tf.serialization.ConfigDict): boolean {
  for (const key of Object.keys(config)) {
    if (/(Regularizer|Constraint)$/.test(key) && config[key] != null) return false;
  }
  return true;
}

/** The stages of `model`, or null when a layer is outside what the plan computes. */
function stagesOf(model: tfl.LayersModel): Stage[] | null {
  const stages: Stage[] = [];
  for (const layer of model.layers) {
    const cls = layer.getClassName();
    if (cls === 'InputLayer') continue;
    const config = layer.getConfig();
    if (!plain(config)) return null;
    const weights = layer.trainableWeights;
    if (layer.weights.length !== weights.length) return null;
    if (layer instanceof SeededDropout) {
      if (layer.noiseShape != null) return null;
      stages.push({ kind: 'dropout', rate: layer.rate });
    } else if (cls === 'Conv2D') {
      const useBias = config.useBias !== false;
      const activation = config.activation;
      if (activation !== 'relu' && activation !== 'linear') return null;
      if (config.dataFormat !== 'channelsLast') return null;
      const strides = pair(config.strides ?? 1, 1);
      const dilation = pair(config.dilationRate ?? 1, 1);
      if (strides[0] !== 1 || strides[1] !== 1 || dilation[0] !== 1 || dilation[1] !== 1) return null;
      const pad = config.padding;
      if (pad !== 'same' && pad !== 'valid') return null;
      if (weights.length !== (useBias ? 2 : 1)) return null;
      stages.push({
        kind: 'conv',
        kernel: weights[0]!,
        bias: useBias ? weights[1] : undefined,
        relu: activation === 'relu',
        pad,
      });
    } else if (cls === 'MaxPooling2D') {
      if (config.dataFormat !== 'channelsLast') return null;
      const size = pair(config.poolSize ?? 2, 2);
      const strides = pair(config.strides ?? size, size[0]);
      const pad = config.padding;
      if (pad !== 'same' && pad !== 'valid') return null;
      stages.push({ kind: 'pool', size, strides, pad });
    } else if (cls === 'Flatten') {
      stages.push({ kind: 'flatten' });
    } else if (cls === 'Dense') {
      const useBias = config.useBias !== false;
      const activation = config.activation;
      if (activation !== 'relu' && activation !== 'linear' && activation !== 'softmax') return null;
      if (weights.length !== (useBias ? 2 : 1)) return null;
      stages.push({ kind: 'dense', kernel: weights[0]!, bias: useBias ? weights[1] : undefined, activation });
    } else {
      return null;
    }
  }
  // only the last stage may be (and must be) a softmax
  const last = stages[stages.length - 1];
  if (last?.kind !== 'dense' || last.activation !== 'softmax') return null;
  if (stages.some((s, i) => s.kind === 'dense' && s.activation === 'softmax' && i !== stages.length - 1)) {
    return null;
  }
  return stages;
}

/** Whether the model was compiled as buildCnn does: categorical cross-entropy, accuracy, an optimizer. */
function compiledAsBuildCnn(model: tfl.LayersModel): boolean {
  if (compiledLoss(model) !== 'categoricalCrossentropy') return false;
  const names = model.metricsNames;
  if (names.length !== 2 || names[0] !== 'loss' || (names[1] !== 'acc' && names[1] !== 'accuracy'))
    return false;
  return canApplyGradients(model);
}

/**
 * The compiled step of `model` on the active backend, or null when the model or backend is outside what it
 * computes (then train with `model.trainOnBatch`). `compiled: false` accepts a model that was never compiled
 * (a replica of a worker pool, which only computes gradients of the categorical cross-entropy); its
 * `trainOnBatch` then throws. `fuseFirstBlock: false` keeps the first block unfused (for tests).
 */
export function fusedStepPlan(
  model: tfl.LayersModel,
  { compiled = true, fuseFirstBlock = true } = {},
): FusedStepPlan | null {
  const backend = tf.getBackend();
  if (!PLAN_BACKENDS.has(backend)) return null;
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  if (model.inputs[0]!.shape.length !== 4) return null;
  if (compiled && !compiledAsBuildCnn(model)) return null;
  if (model.calculateLosses().length > 0) return null;
  if (model.weights.some((w) => w.dtype !== 'float32')) return null;
  const trainable = model.trainableWeights;
  if (trainable.length !== model.weights.length) return null;
  const stages = stagesOf(model);
  if (!stages) return null;
  // the input must reach the first dense layer flattened
  let rank = 4;
  for (const s of stages) {
    if (s.kind === 'flatten') rank = 2;
    else if (s.kind === 'dense' && rank !== 2) return null;
    else if ((s.kind === 'conv' || s.kind === 'pool') && rank !== 4) return null;
  }
  // The first block as one kernel each way where the wasm kernels are registered.
  const first = stages[0];
  const second = stages[1];
  const inChannels = model.inputs[0]!.shape[3];
  let fusedFirstBlock = false;
  if (
    fuseFirstBlock &&
    first?.kind === 'conv' &&
    first.relu &&
    first.bias &&
    second?.kind === 'pool' &&
    second.pad === 'valid' &&
    second.size[0] === 2 &&
    second.size[1] === 2 &&
    second.strides[0] === 2 &&
    second.strides[1] === 2 &&
    inChannels === 1 &&
    (first.kernel.shape[3] as number) % 4 === 0 &&
    tf.getKernel(CONV_RELU_POOL_KERNEL, backend) != null &&
    tf.getKernel(CONV_RELU_POOL_GRAD_KERNEL, backend) != null
  ) {
    stages.splice(0, 2, { kind: 'convReluPool', kernel: first.kernel, bias: first.bias, pad: first.pad });
    fusedFirstBlock = true;
  }
  const index = new Map<Variable, number>(trainable.map((v, i) => [v, i]));
  const optimizer = model.optimizer as tf.Optimizer | undefined;

  const gradients = (xs: tf.Tensor4D, ys: tf.Tensor2D, random: RandomSource | undefined): FusedGradients => {
    const source = random ?? createRandomSource(freshSeed());
    const wasm = tf.getBackend() === 'wasm';
    const grads: (tf.Tensor | undefined)[] = new Array(trainable.length);
    const [lossAcc, ...kept] = tf.tidy(() => {
      const saved: tf.Tensor[][] = [];
      let a: tf.Tensor = xs;
      // forward
      for (const s of stages) {
        switch (s.kind) {
          case 'convReluPool': {
            const [pooled, argmax] = tf
              .engine()
              .runKernel(
                CONV_RELU_POOL_KERNEL,
                { x: a, filter: s.kernel.read(), bias: s.bias.read() },
                convReluPoolAttrs(a.shape as [number, number, number, number], s.kernel.shape, s.pad),
              ) as tf.Tensor[];
            saved.push([a, argmax!]);
            a = pooled!;
            break;
          }
          case 'conv': {
            const y = tf.fused.conv2d({
              x: a as tf.Tensor4D,
              filter: s.kernel.read() as tf.Tensor4D,
              strides: 1,
              pad: s.pad,
              bias: s.bias?.read(),
              activation: s.relu ? 'relu' : 'linear',
            });
            saved.push([a, y]);
            a = y;
            break;
          }
          case 'pool': {
            const y = tf.maxPool(a as tf.Tensor4D, s.size, s.strides, s.pad);
            saved.push([a, y]);
            a = y;
            break;
          }
          case 'dropout': {
            if (s.rate > 0 && s.rate < 1) {
              // as SeededDropout.call: one key per call, then the whole mask
              const key = 1 + Math.floor(source() * 2 ** 31);
              const mask = dropoutMaskTensor(a.shape, s.rate, key);
              saved.push([mask]);
              a = tf.mul(a, mask);
            } else {
              saved.push([]);
            }
            break;
          }
          case 'flatten': {
            saved.push([a]);
            a = tf.reshape(a, [a.shape[0]!, -1]);
            break;
          }
          case 'dense': {
            const kernel = s.kernel.read() as tf.Tensor2D;
            const bias = s.bias?.read();
            let y: tf.Tensor;
            if (wasm && kernel.shape[0] * kernel.shape[1] >= 2 * a.size) {
              // XNNPACK repacks the right operand of every product: with a kernel much larger than the
              // batch's activations (Dense 1568 → 256 on 64 images: 401,408 against 100,352 values), the
              // product is cheaper as (kernelᵀ · xᵀ)ᵀ, which repacks xᵀ; bias and activation follow
              const z = tf.transpose(tf.matMul(kernel, a as tf.Tensor2D, true, true));
              const biased = bias ? tf.add(z, bias) : z;
              y =
                s.activation === 'softmax'
                  ? tf.softmax(biased)
                  : s.activation === 'relu'
                    ? tf.relu(biased)
                    : biased;
            } else {
              y =
                s.activation === 'softmax'
                  ? tf.softmax(tf.fused.matMul({ a: a as tf.Tensor2D, b: kernel, bias }))
                  : tf.fused.matMul({ a: a as tf.Tensor2D, b: kernel, bias, activation: s.activation });
            }
            saved.push([a, y]);
            a = y;
            break;
          }
        }
      }

      // loss and accuracy as tfjs-layers computes them (categoricalCrossentropy on probabilities: normalised,
      // clipped to [eps, 1 - eps]; categoricalAccuracy), and the gradient of the mean loss with respect to the
      // probabilities through the same ops
      const p = a;
      const n = p.shape[0]!;
      const total = tf.sum(p, -1, true);
      const q = tf.div(p, total);
      const clipped = tf.clipByValue(q, CE_EPSILON, 1 - CE_EPSILON);
      const loss = tf.mean(tf.neg(tf.sum(tf.mul(ys, tf.log(clipped)), -1)));
      const acc = tf.mean(tf.cast(tf.equal(tf.argMax(ys, -1), tf.argMax(p, -1)), 'float32'));
      // d(loss)/d(clipped) = -ys / clipped / n; through the clip (where q is inside [eps, 1 - eps]) and the
      // division by the row sum: dq / total - sum(dq * q) / total
      const inside = tf.logicalAnd(tf.greaterEqual(q, CE_EPSILON), tf.lessEqual(q, 1 - CE_EPSILON));
      const dClipped = tf.div(tf.neg(ys), tf.mul(clipped, n));
      const dq = tf.where(inside, dClipped, tf.zerosLike(dClipped));
      let g: tf.Tensor = tf.sub(tf.div(dq, total), tf.div(tf.sum(tf.mul(dq, q), -1, true), total));

      // backward
      for (let i = stages.length - 1; i >= 0; i--) {
        const s = stages[i]!;
        const [input, out] = saved[i]!;
        switch (s.kind) {
          case 'dense': {
            if (s.activation === 'softmax') {
              // tfjs-core's softmax gradient: dy·y − sum(dy·y)·y
              const dyTimesY = tf.mul(g, out!);
              g = tf.sub(dyTimesY, tf.mul(tf.sum(dyTimesY, -1, true), out!));
            } else if (s.activation === 'relu') {
              g = tf.mul(g, tf.step(out!));
            }
            grads[index.get(s.kernel)!] = tf.matMul(input!, g, true, false);
            if (s.bias) grads[index.get(s.bias)!] = tf.sum(g, 0);
            // dx = g·Wᵀ, computed as (W·gᵀ)ᵀ: the operand the product repacks is then g, not the kernel
            if (i > 0) g = tf.transpose(tf.matMul(s.kernel.read(), g, false, true));
            break;
          }
          case 'flatten':
            g = tf.reshape(g, input!.shape);
            break;
          case 'dropout':
            if (input) g = tf.mul(g, input);
            break;
          case 'pool':
            g = tf
              .engine()
              .runKernel(
                'MaxPoolGrad',
                { dy: g, input: input!, output: out! },
                { filterSize: s.size, strides: s.strides, pad: s.pad },
              ) as tf.Tensor;
            break;
          case 'conv': {
            if (s.relu) g = tf.mul(g, tf.step(out!));
            const kernel = s.kernel.read();
            grads[index.get(s.kernel)!] = tf
              .engine()
              .runKernel(
                'Conv2DBackpropFilter',
                { x: input!, dy: g },
                { strides: [1, 1], pad: s.pad, dataFormat: 'NHWC', filterShape: kernel.shape },
              ) as tf.Tensor;
            if (s.bias) grads[index.get(s.bias)!] = tf.sum(g, [0, 1, 2]);
            if (i > 0) {
              g = tf.conv2dTranspose(
                g as tf.Tensor4D,
                kernel as tf.Tensor4D,
                input!.shape as [number, number, number, number],
                1,
                s.pad,
              );
            }
            break;
          }
          case 'convReluPool': {
            const [dFilter, dBias] = tf.engine().runKernel(
              CONV_RELU_POOL_GRAD_KERNEL,
              { x: input!, dy: g, argmax: out! },
              {
                ...convReluPoolAttrs(input!.shape as [number, number, number, number], s.kernel.shape, s.pad),
                filterHeight: s.kernel.shape[0] as number,
                filterWidth: s.kernel.shape[1] as number,
              },
            ) as tf.Tensor[];
            grads[index.get(s.kernel)!] = dFilter;
            grads[index.get(s.bias)!] = dBias;
            break;
          }
        }
      }
      return [tf.stack([loss, acc]), ...(grads as tf.Tensor[])];
    });
    try {
      const [loss, acc] = lossAcc!.dataSync();
      return { loss: loss!, acc: acc!, grads: kept };
    } finally {
      lossAcc!.dispose();
    }
  };

  return {
    fusedFirstBlock,
    gradients,
    trainOnBatch(xs, ys, random) {
      if (!optimizer) {
        throw new FashionMnistError(
          'UNSUPPORTED',
          'fusedStepPlan: trainOnBatch needs a compiled model (this plan was made with compiled: false); compile the model first',
        );
      }
      const { loss, acc, grads } = gradients(xs, ys, random);
      // in trainableWeights order, as trainOnBatch's minimize (the optimizer keeps its slots by position)
      const named: tf.NamedTensorMap = {};
      trainable.forEach((v, i) => {
        named[(v.read() as tf.Variable).name] = grads[i]!;
      });
      try {
        optimizer.applyGradients(named);
      } finally {
        tf.dispose(grads);
      }
      return [loss, acc];
    },
  };
}

/** The attributes of the fused first-block kernels for an input and filter shape. */
function convReluPoolAttrs(
  xShape: [number, number, number, number],
  filterShape: tfl.Shape,
  pad: 'same' | 'valid',
): { padTop: number; padLeft: number; outHeight: number; outWidth: number } {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape as [number, number, number, number],
    1,
    1,
    pad,
  );
  return {
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
  };
}
