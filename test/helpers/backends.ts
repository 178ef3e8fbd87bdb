import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';

/** Backends the test suite runs on where behaviour could differ. */
export const BACKENDS = ['cpu', 'wasm'] as const;
export type TestBackend = (typeof BACKENDS)[number];

/** Switches the global tfjs engine to `name` and waits until it is ready. */
export async function useBackend(name: TestBackend): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`backend ${name} failed to initialise`);
  await tf.ready();
}
