/**
 * Opt-in entry `fashion-mnist-tfjs/wasm-training`: kernels that let `@tensorflow/tfjs-backend-wasm`
 * (4.x) train convolutional networks, fast. Importing this module registers nothing (no side
 * effects, safe to tree-shake); call {@link installWasmTrainingKernels} once after importing the
 * wasm backend package. Works in browsers and Node alike.
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import '@tensorflow/tfjs-backend-wasm';
 * import { installWasmTrainingKernels } from 'fashion-mnist-tfjs/wasm-training';
 *
 * installWasmTrainingKernels();
 * await tf.setBackend('wasm');
 * ```
 *
 * @module
 */
export * from './backend/wasm/index.js';
