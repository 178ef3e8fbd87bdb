// One check for "is a TensorFlow.js backend ready?", made before the first tensor operation of every public
// call that needs one, so that a missing `await tf.setBackend(…)` is reported as what it is (NO_BACKEND), not as
// a damaged model or a cryptic tfjs message.
import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';

const HOW =
  "import a backend package (e.g. import '@tensorflow/tfjs-backend-wasm'; or -cpu, -webgl, @tensorflow/tfjs-node) " +
  "and await tf.setBackend('wasm') (or tf.ready()) before calling";

/** Throws NO_BACKEND unless a tfjs backend is registered and initialised. Returns the backend's name. */
export function requireBackend(where: string): string {
  const registered = Object.keys(tf.engine().registryFactory);
  if (registered.length === 0) {
    throw new FashionMnistError('NO_BACKEND', `${where}: no TensorFlow.js backend is registered; ${HOW}`);
  }
  // The engine's public `backend` getter starts the best registered backend synchronously where it can, and
  // throws while an async backend (wasm, webgpu) has not finished initialising.
  try {
    tf.engine().backend;
  } catch (e) {
    throw new FashionMnistError(
      'NO_BACKEND',
      `${where}: no TensorFlow.js backend is ready (registered: ${registered.join(', ')}); ${HOW}`,
      { cause: e },
    );
  }
  return tf.getBackend();
}
