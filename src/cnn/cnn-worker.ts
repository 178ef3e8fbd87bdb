// Worker-thread side of `cnnWorkerPool` (Node only): one tfjs engine per thread holding a replica of the model
// being trained (built from its `toJSON()` topology and weights), computing the gradients of one shard of each
// batch with the same code as the calling thread (src/cnn/data-parallel.ts). Weights come in and gradients go
// out through shared memory; control messages through postMessage.
//
// The pool starts this file by URL: dist/cnn-worker.{js,cjs} in the package (tsup builds it as an entry of its
// own, next to the module that starts it). It is never started through a TypeScript loader; code running from
// the sources uses the bundle of scripts/build-dev-worker.mjs (.cache/dev/cnn-worker.mjs).
import { parentPort, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { registerRandomErasing } from '../augment/random-erasing-layer.js';
import { installWasmTrainingKernels } from '../backend/wasm/install.js';
import { FashionMnistError } from '../errors.js';
import { describeWorkerError, type WorkerErrorMessage } from '../internal/worker-error.js';
import { type CnnShardTask, shardGradients, trainableSizes, writeTrainable } from './data-parallel.js';
import { registerSeededDropout, SeededDropout } from './dropout.js';
import { type FusedStepPlan, fusedStepPlan } from './fused-step.js';

/**
 * What the pool passes to each worker at start.
 *
 * @example
 * ```ts
 * new Worker(url, { workerData: { backend: 'wasm' } satisfies CnnWorkerInit });
 * ```
 */
export interface CnnWorkerInit {
  backend: 'wasm' | 'cpu';
}

/**
 * Requests to a worker: load a replica (topology JSON, every weight's values in `model.weights` order, the
 * shared trainable weights and the worker's own shared gradient buffer), compute one shard, or drop the replica.
 *
 * @example
 * ```ts
 * worker.postMessage({ type: 'step', id: 3, pixels, onehot, n: 32, dropoutKey: undefined });
 * ```
 */
export type CnnWorkerTask =
  | {
      type: 'load';
      id: number;
      topology: string;
      weights: Float32Array[];
      shared: SharedArrayBuffer;
      gradients: SharedArrayBuffer;
    }
  | ({ type: 'step'; id: number } & CnnShardTask)
  | { type: 'unload'; id: number };

/**
 * An error as it crosses the thread boundary (structured cloning keeps neither the class nor `code`).
 *
 * @example
 * ```ts
 * const e: CnnWorkerError = { name: 'FashionMnistError', message: '…', code: 'BAD_SHAPE' };
 * ```
 */
export type CnnWorkerError = WorkerErrorMessage;

/**
 * Messages a worker sends back.
 *
 * @example
 * ```ts
 * worker.on('message', (m: CnnWorkerReply) => m.type === 'result' && console.log(m.loss));
 * ```
 */
export type CnnWorkerReply =
  | { type: 'ready' }
  | { type: 'done'; id: number }
  | { type: 'result'; id: number; loss: number; acc: number; present: boolean[] }
  | { type: 'error'; id: number | null; error: CnnWorkerError };

async function loadBackend(name: 'wasm' | 'cpu'): Promise<void> {
  // Literal specifiers so bundlers and the type checker see them; the packages are optional peers.
  if (name === 'wasm') {
    await import('@tensorflow/tfjs-backend-wasm');
    installWasmTrainingKernels();
  } else await import('@tensorflow/tfjs-backend-cpu');
  if (!(await tf.setBackend(name))) {
    throw new FashionMnistError('NO_BACKEND', `cnn worker: the '${name}' backend failed to initialise`);
  }
  await tf.ready();
}

interface Replica {
  model: tfl.LayersModel;
  dropouts: SeededDropout[];
  sizes: number[];
  weights: Float32Array;
  gradients: Float32Array;
  /** The tape-free step for this replica (null: the model or backend is outside it), made on first use. */
  plan?: FusedStepPlan | null;
}

function dropoutsOf(model: tfl.LayersModel): SeededDropout[] {
  const out: SeededDropout[] = [];
  const visit = (layers: tfl.layers.Layer[]) => {
    for (const layer of layers) {
      if (layer instanceof SeededDropout) out.push(layer);
      const inner = (layer as { layers?: unknown }).layers;
      if (Array.isArray(inner)) visit(inner as tfl.layers.Layer[]);
    }
  };
  visit(model.layers);
  return out;
}

async function load(task: Extract<CnnWorkerTask, { type: 'load' }>): Promise<Replica> {
  const model = await tfl.models.modelFromJSON(JSON.parse(task.topology));
  const values = model.weights;
  if (values.length !== task.weights.length) {
    model.dispose();
    throw new FashionMnistError(
      'BAD_SHAPE',
      `cnn worker: the replica has ${values.length} weights, the model ${task.weights.length}`,
    );
  }
  const tensors = values.map((w, i) => tf.tensor(task.weights[i]!, w.read().shape, 'float32'));
  try {
    model.setWeights(tensors);
  } finally {
    tf.dispose(tensors);
  }
  const sizes = trainableSizes(model);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (total * 4 !== task.shared.byteLength || total * 4 !== task.gradients.byteLength) {
    model.dispose();
    throw new FashionMnistError(
      'BAD_SHAPE',
      `cnn worker: the replica has ${total} trainable values, the model ${task.shared.byteLength / 4}`,
    );
  }
  return {
    model,
    dropouts: dropoutsOf(model),
    sizes,
    weights: new Float32Array(task.shared),
    gradients: new Float32Array(task.gradients),
  };
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) {
    throw new FashionMnistError(
      'UNSUPPORTED',
      'cnn-worker: this script runs in a worker thread started by cnnWorkerPool(), not on its own',
    );
  }
  const init = workerData as CnnWorkerInit;
  try {
    await loadBackend(init.backend);
    registerSeededDropout();
    registerRandomErasing();
  } catch (e) {
    port.postMessage({ type: 'error', id: null, error: describeWorkerError(e) } satisfies CnnWorkerReply);
    return;
  }
  let replica: Replica | undefined;
  const drop = () => {
    replica?.model.dispose();
    replica = undefined;
  };
  const handle = async (task: CnnWorkerTask): Promise<CnnWorkerReply> => {
    if (task.type === 'load') {
      drop();
      replica = await load(task);
      return { type: 'done', id: task.id };
    }
    if (task.type === 'unload') {
      drop();
      return { type: 'done', id: task.id };
    }
    if (!replica) throw new FashionMnistError('BAD_INPUT', 'cnn worker: a step before any model was loaded');
    writeTrainable(replica.model, replica.weights); // as the calling thread left them in shared memory
    if (task.fused && replica.plan === undefined)
      replica.plan = fusedStepPlan(replica.model, { compiled: false });
    const r = shardGradients(replica.model, replica.dropouts, task, replica.gradients, replica.plan);
    return { type: 'result', id: task.id, loss: r.loss, acc: r.acc, present: r.present };
  };
  // Handled one at a time, in order (a load is asynchronous); the pool stops a worker with terminate().
  let queue: Promise<void> = Promise.resolve();
  port.on('message', (task: CnnWorkerTask) => {
    queue = queue.then(() =>
      handle(task).then(
        (reply) => port.postMessage(reply),
        (e: unknown) =>
          port.postMessage({
            type: 'error',
            id: task.id,
            error: describeWorkerError(e),
          } satisfies CnnWorkerReply),
      ),
    );
  });
  port.postMessage({ type: 'ready' } satisfies CnnWorkerReply);
}

void main();
