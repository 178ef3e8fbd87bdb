// Data-parallel training steps (universal): what `trainCnn({ pool })` does on the calling thread, and what every
// replica does wherever it runs. A batch is split into shards, one per replica (the calling thread's model is
// replica 0); each replica computes the gradients of its shard's mean loss, the caller sums them weighted by
// shard size (which is the gradient of the whole batch's mean loss), applies them once with the model's
// optimizer and hands the new weights back to the replicas. Where the other replicas run (Node worker threads:
// `cnnWorkerPool` of `fashion-mnist-tfjs/node`) is behind {@link CnnTrainingPool}, so nothing here reaches a
// Node built-in.
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { f32, type WasmBackendLike } from '../backend/wasm/heap.js';
import { createRandomSource } from '../internal/random.js';
import { badOption } from '../internal/validate.js';
import type { SeededDropout } from './dropout.js';
import type { FusedStepPlan } from './fused-step.js';
import { allLayers, canApplyGradients, compiledLoss } from './layers.js';

/**
 * One shard of a batch for a replica: `n` images (float32, already normalised, `n × height × width × channels`
 * values) and their one-hot labels, plus the key of its dropout stream (undefined: the layers' own randomness).
 *
 * @example
 * ```ts
 * const task: CnnShardTask = { pixels, onehot, n: 32, dropoutKey: '1/0/dropout/5/1' };
 * ```
 */
export interface CnnShardTask {
  pixels: Float32Array;
  onehot: Float32Array;
  n: number;
  dropoutKey: string | undefined;
  /** Compute the gradients with the tape-free step where it applies (trainCnn's `fusedStep`). */
  fused?: boolean;
}

/**
 * What a replica computed for its shard: the mean loss and accuracy of the shard, and the gradients of the mean
 * loss, all trainable weights laid end to end in `model.trainableWeights` order (`present[i]` false where a
 * weight got no gradient; its values are then zeros).
 *
 * @example
 * ```ts
 * const r: CnnShardResult = { loss: 2.3, acc: 0.1, gradients, present: [true, true] };
 * ```
 */
export interface CnnShardResult {
  loss: number;
  acc: number;
  gradients: Float32Array;
  present: boolean[];
}

/**
 * A model's replicas in other threads, for one training run (from {@link CnnTrainingPool.open}).
 *
 * @example
 * ```ts
 * const session = await pool.open(model, 'trainCnn');
 * const results = await session.compute(tasks);
 * ```
 */
export interface CnnPoolSession {
  /** Replicas beside the calling thread's model. */
  readonly replicas: number;
  /**
   * Starts `tasks[r]` on replica `r` (at most {@link CnnPoolSession.replicas} tasks) and resolves with their
   * results in the same order. The replicas read their weights as the last {@link CnnPoolSession.sync} left
   * them. A result's `gradients` may be a view that the next call overwrites.
   */
  compute(tasks: CnnShardTask[]): Promise<CnnShardResult[]>;
  /** The new trainable weights, laid end to end in `model.trainableWeights` order, for the replicas' next step. */
  sync(weights: Float32Array): void;
  /** Ends the run: the replicas are freed, the threads may serve another run. */
  close(): Promise<void>;
}

/**
 * Replicas for data-parallel training, as `trainCnn`'s option `pool` takes them; in Node `cnnWorkerPool()` of
 * `fashion-mnist-tfjs/node` makes one (one tfjs engine per worker thread).
 *
 * @example
 * ```ts
 * import { cnnWorkerPool } from 'fashion-mnist-tfjs/node';
 * const pool: CnnTrainingPool = cnnWorkerPool({ workers: 1 });
 * await trainCnn(model, data.train, { epochs: 1, pool });
 * ```
 */
export interface CnnTrainingPool {
  /** Replicas besides the calling thread (each computes one shard of every batch). */
  readonly workers: number;
  /**
   * Starts replicas of `model` (its topology from `model.toJSON()`, its current weights). Rejects with
   * `WORKER_FAILED` when a replica cannot start, `ABORTED` after dispose, `BAD_OPTION` while another run uses
   * the pool.
   */
  open(model: tfl.LayersModel, where: string): Promise<CnnPoolSession>;
}

/**
 * Refuses, before any work, a model that data-parallel training would change or cannot replicate: batch
 * normalisation (statistics per shard instead of per batch), a loss other than categorical cross-entropy
 * (the loss the replicas compute), several inputs or outputs, weights that are not float32, an optimizer
 * without `applyGradients`.
 */
export function checkPoolableModel(model: tfl.LayersModel, where: string): void {
  const bn = allLayers(model).find((l) => l.getClassName() === 'BatchNormalization');
  if (bn) {
    throw badOption(
      `${where}: option 'pool' cannot train a model with BatchNormalization layers ('${bn.name}'): each replica ` +
        'would normalise with the statistics of its shard instead of the batch; train it without a pool',
    );
  }
  const loss = compiledLoss(model);
  if (loss !== 'categoricalCrossentropy') {
    throw badOption(
      `${where}: option 'pool' needs a model compiled with loss 'categoricalCrossentropy' (as buildCnn's), ` +
        `this one has ${typeof loss === 'string' ? `'${loss}'` : 'another loss'}`,
    );
  }
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw badOption(`${where}: option 'pool' needs a model with one input and one output`);
  }
  const odd = model.weights.find((w) => w.dtype !== 'float32');
  if (odd) {
    throw badOption(`${where}: option 'pool' needs float32 weights; '${odd.name}' is ${odd.dtype}`);
  }
  if (!canApplyGradients(model)) {
    throw badOption(`${where}: option 'pool' needs an optimizer with applyGradients (any tf.Optimizer)`);
  }
}

/** Sizes of `replicas` shards of `n` images: as equal as possible, the larger ones first. */
export function shardSizes(n: number, replicas: number): number[] {
  const base = Math.floor(n / replicas);
  const extra = n % replicas;
  return Array.from({ length: replicas }, (_, r) => base + (r < extra ? 1 : 0));
}

/**
 * The key of a shard's dropout stream: `(seed, epoch, batch, shard)`, so a seeded run is reproducible for a
 * given number of replicas (and differs from a run with another number).
 */
export function dropoutKey(seed: string | number, epoch: number, batch: number, shard: number): string {
  return [String(seed), String(epoch), 'dropout', String(batch), String(shard)].join('/');
}

/** A shard's mean loss and accuracy, and its gradients as tensors in trainableWeights order (undefined: none). */
interface ShardTensors {
  loss: number;
  acc: number;
  grads: (tf.Tensor | undefined)[];
}

/**
 * Gradients of the mean categorical cross-entropy (plus the model's regularisation losses, as tfjs-layers'
 * training) of one shard, in training mode, as tensors (the caller disposes them); the model's `SeededDropout`
 * layers draw from the shard's stream. With `task.fused` and a plan, the tape-free step computes them.
 */
function shardGradientTensors(
  model: tfl.LayersModel,
  dropouts: readonly SeededDropout[],
  task: CnnShardTask,
  plan?: FusedStepPlan | null,
): ShardTensors {
  const [h, w, c] = model.inputs[0]!.shape.slice(1) as [number, number, number];
  const classes = model.outputs[0]!.shape[1] as number;
  const random = task.dropoutKey === undefined ? undefined : createRandomSource(task.dropoutKey);
  const xs = tf.tensor4d(task.pixels, [task.n, h, w, c]);
  const ys = tf.tensor2d(task.onehot, [task.n, classes]);
  try {
    if (task.fused && plan) return plan.gradients(xs, ys, random);
    const variables = model.trainableWeights.map((v) => v.read() as tf.Variable);
    for (const d of dropouts) d.setRandomSource(random);
    let accuracy: tf.Scalar | undefined;
    let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
    try {
      result = tf.variableGrads(() => {
        const out = model.apply(xs, { training: true }) as tf.Tensor;
        let value = tf.mean(tfl.metrics.categoricalCrossentropy(ys, out)) as tf.Scalar;
        for (const r of model.calculateLosses()) value = tf.add(value, r);
        accuracy = tf.keep(tf.mean(tfl.metrics.categoricalAccuracy(ys, out)) as tf.Scalar);
        return value;
      }, variables);
      return {
        loss: result.value.dataSync()[0]!,
        acc: accuracy!.dataSync()[0]!,
        grads: variables.map((v) => result!.grads[v.name]),
      };
    } catch (e) {
      if (result) tf.dispose(Object.values(result.grads));
      throw e;
    } finally {
      for (const d of dropouts) d.setRandomSource(undefined);
      if (accuracy) accuracy.dispose();
      if (result) result.value.dispose();
    }
  } finally {
    tf.dispose([xs, ys]);
  }
}

/** Disposes a shard's gradients (undefined where a weight got none). */
function disposeGrads(grads: readonly (tf.Tensor | undefined)[]): void {
  tf.dispose(grads.filter((g): g is tf.Tensor => g !== undefined));
}

/**
 * Copies a float32 tensor's values into `target` at `offset`: straight from the wasm heap (one memcpy) on the
 * wasm backend, where `dataSync` would copy element by element out of WebAssembly memory.
 */
function copyValues(t: tf.Tensor, target: Float32Array, offset: number): void {
  const backend = tf.backend() as unknown as Partial<WasmBackendLike>;
  if (tf.getBackend() === 'wasm' && backend.wasm?.HEAPU8 && backend.dataIdMap?.get(t.dataId)) {
    target.set(f32(backend as WasmBackendLike, t, t.size), offset);
  } else {
    target.set(t.dataSync() as Float32Array, offset);
  }
}

/**
 * A float32 tensor of `shape` from `values`, which the caller may overwrite afterwards: the wasm backend copies
 * on creation, the cpu backend keeps the array it is given (so it gets a copy).
 */
function tensorFrom(values: Float32Array, shape: number[]): tf.Tensor {
  return tf.tensor(tf.getBackend() === 'wasm' ? values : values.slice(), shape, 'float32');
}

/**
 * What one replica computes for its shard (see {@link shardGradientTensors}), the gradients written into
 * `into` laid end to end. The same function runs in every worker replica.
 */
export function shardGradients(
  model: tfl.LayersModel,
  dropouts: readonly SeededDropout[],
  task: CnnShardTask,
  into: Float32Array,
  plan?: FusedStepPlan | null,
): CnnShardResult {
  const r = shardGradientTensors(model, dropouts, task, plan);
  try {
    const present: boolean[] = [];
    let offset = 0;
    model.trainableWeights.forEach((v, i) => {
      const g = r.grads[i];
      const size = v.read().size;
      if (g) copyValues(g, into, offset);
      else into.fill(0, offset, offset + size);
      present.push(g !== undefined);
      offset += size;
    });
    return { loss: r.loss, acc: r.acc, gradients: into, present };
  } finally {
    disposeGrads(r.grads);
  }
}

/**
 * Writes the trainable weights into `target` laid end to end (in `model.trainableWeights` order).
 */
export function readTrainable(model: tfl.LayersModel, target: Float32Array): void {
  let offset = 0;
  for (const w of model.trainableWeights) {
    const t = w.read();
    copyValues(t, target, offset);
    offset += t.size;
  }
}

/** Sets the trainable weights from `source` laid end to end (in `model.trainableWeights` order). */
export function writeTrainable(model: tfl.LayersModel, source: Float32Array): void {
  let offset = 0;
  for (const w of model.trainableWeights) {
    const v = w.read() as tf.Variable;
    const t = tensorFrom(source.subarray(offset, offset + v.size), v.shape);
    v.assign(t);
    t.dispose();
    offset += v.size;
  }
}

/** Number of values of each trainable weight, in `model.trainableWeights` order. */
export function trainableSizes(model: tfl.LayersModel): number[] {
  return model.trainableWeights.map((v) => v.read().size);
}

/**
 * One data-parallel training step of `model` on a batch: shards to the session's replicas (first posted, so
 * they run while this thread computes shard 0), gradients summed by shard size, one `applyGradients` of the
 * model's optimizer, the new weights synced to the replicas. Returns `[loss, accuracy]` of the batch (the
 * means over its images).
 */
export async function pooledStep(
  model: tfl.LayersModel,
  session: CnnPoolSession,
  dropouts: readonly SeededDropout[],
  batch: { pixels: Float32Array; onehot: Float32Array; n: number },
  keyOf: ((shard: number) => string) | undefined,
  scratch: Float32Array,
  plan?: FusedStepPlan | null,
): Promise<[number, number]> {
  const { n } = batch;
  const px = batch.pixels.length / n;
  const classes = batch.onehot.length / n;
  const sizes = shardSizes(n, session.replicas + 1);
  const tasks: CnnShardTask[] = [];
  let start = sizes[0]!;
  for (let s = 1; s < sizes.length && sizes[s]! > 0; s++) {
    const end = start + sizes[s]!;
    tasks.push({
      pixels: batch.pixels.slice(start * px, end * px),
      onehot: batch.onehot.slice(start * classes, end * classes),
      n: sizes[s]!,
      dropoutKey: keyOf?.(s),
      fused: plan != null,
    });
    start = end;
  }
  const remote = tasks.length > 0 ? session.compute(tasks) : Promise.resolve([]);
  remote.catch(() => undefined); // observed below; a failure while this thread computes is not unhandled
  // This thread's shard stays on the backend as tensors; the replicas' sums come back in shared memory.
  const own = shardGradientTensors(
    model,
    dropouts,
    {
      pixels: batch.pixels.subarray(0, sizes[0]! * px),
      onehot: batch.onehot.subarray(0, sizes[0]! * classes),
      n: sizes[0]!,
      dropoutKey: keyOf?.(0),
      fused: plan != null,
    },
    plan,
  );
  let others: CnnShardResult[];
  try {
    others = await remote;
  } catch (e) {
    disposeGrads(own.grads);
    throw e;
  }
  // The gradient of the batch: the shards' gradients weighted by shard size (float32 ops on the backend).
  const w0 = sizes[0]! / n;
  const weights = others.map((_, k) => sizes[k + 1]! / n);
  let loss = own.loss * w0;
  let acc = own.acc * w0;
  others.forEach((r, k) => {
    loss += r.loss * weights[k]!;
    acc += r.acc * weights[k]!;
  });
  const variables = model.trainableWeights.map((v) => v.read() as tf.Variable);
  const named: tf.NamedTensorMap = {};
  try {
    tf.tidy(() => {
      let offset = 0;
      variables.forEach((v, i) => {
        let sum: tf.Tensor | undefined = own.grads[i] ? tf.mul(own.grads[i]!, w0) : undefined;
        others.forEach((r, k) => {
          if (!r.present[i]) return;
          const part = tf.mul(
            tensorFrom(r.gradients.subarray(offset, offset + v.size), v.shape),
            weights[k]!,
          );
          sum = sum ? tf.add(sum, part) : part;
        });
        if (sum) named[v.name] = tf.keep(sum);
        offset += v.size;
      });
    });
    (model.optimizer as tf.Optimizer).applyGradients(named);
  } finally {
    tf.dispose(Object.values(named));
    disposeGrads(own.grads);
  }
  readTrainable(model, scratch);
  session.sync(scratch);
  return [loss, acc];
}
