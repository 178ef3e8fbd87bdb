// Backend set-up for the CLI. The library never imports a backend (the application chooses); the CLI is an
// application, so it loads one at run time through the library's own selectBackend / useFastestBackend (dynamic
// import() of whatever the user installed), which say which package to install when none works.
import * as tf from '@tensorflow/tfjs-core';
import { type BackendCandidate, selectBackend, useFastestBackend } from '../backend/select.js';
import { FashionMnistError } from '../errors.js';

/** What `--backend` accepts: `auto` tries tfjs-node-gpu, tfjs-node, wasm, then cpu. */
export const BACKEND_CHOICES = ['auto', 'tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/**
 * Makes `choice` the active backend (with `auto`, the fastest installed) and returns the tfjs backend name now
 * active. On wasm, `training` also installs the library's wasm training kernels (stock tfjs-backend-wasm 4.x
 * cannot train convolutions).
 *
 * @throws FashionMnistError `NOT_FOUND` when the backend (or, for `auto`, every backend) cannot be used; the
 * message names the package to install.
 */
export async function setUpBackend(
  choice: BackendChoice | undefined,
  options: { training?: boolean } = {},
): Promise<string> {
  // The CLI's users chose a backend already (or let `auto` choose); tfjs's "install tfjs-node" banner and other
  // development warnings would only clutter the output.
  tf.env().set('PROD', true);
  const trainingKernels = Boolean(options.training);
  try {
    const chosen =
      choice === undefined || choice === 'auto'
        ? await useFastestBackend({ trainingKernels })
        : await selectBackend(choice as BackendCandidate, { trainingKernels });
    return chosen.backend;
  } catch (e) {
    if (!(e instanceof FashionMnistError)) throw e;
    throw new FashionMnistError(
      'NOT_FOUND',
      `${e.message}\nInstall a backend next to fashion-mnist-tfjs, for example: npm install ` +
        '@tensorflow/tfjs-backend-wasm (fast, portable) or @tensorflow/tfjs-backend-cpu (pure JavaScript).',
      { cause: e },
    );
  }
}
