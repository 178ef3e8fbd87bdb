import * as tfl from '@tensorflow/tfjs-layers';
import { FashionMnistError } from '../errors.js';
import { mergeOptions, show } from '../internal/validate.js';

/**
 * Where the pretrained model lives inside the package.
 *
 * @example
 * ```ts
 * PRETRAINED_MODEL_DIR; // 'models/fashion-cnn'
 * ```
 */
export const PRETRAINED_MODEL_DIR = 'models/fashion-cnn';

/**
 * URL of the pretrained model's `model.json` next to this module: `../models/…` from the bundled `dist/`
 * files, `../../models/…` from `src/cnn/` when running the sources. Serving the package as it is (a CDN that
 * mirrors npm, or a dev server over `node_modules`) makes it resolve; a bundler that copies only the code does
 * not copy the weights, so there pass `url` to where you host `models/fashion-cnn/`.
 *
 * @example
 * ```ts
 * pretrainedModelUrl(); // 'file:///…/node_modules/fashion-mnist-tfjs/models/fashion-cnn/model.json'
 * ```
 */
export function pretrainedModelUrl(): string {
  const here = import.meta.url;
  const fromSources = /\/src\/cnn\/[^/]*$/.test(new URL(here).pathname);
  return new URL(`${fromSources ? '../../' : '../'}${PRETRAINED_MODEL_DIR}/model.json`, here).href;
}

/**
 * Options of {@link loadPretrained}.
 *
 * @example
 * ```ts
 * const options: LoadPretrainedOptions = { url: 'https://example.org/fashion-cnn/model.json' };
 * ```
 */
export interface LoadPretrainedOptions {
  /** URL of `model.json` (its weight files next to it); default {@link pretrainedModelUrl}. */
  url?: string | URL;
}

const LOAD_PRETRAINED_DEFAULTS: Readonly<LoadPretrainedOptions> = Object.freeze({ url: undefined });

/**
 * Loads the pretrained Fashion-MNIST CNN shipped with the package: the reference network trained on the full
 * training set by `scripts/train-pretrained.ts`, its recipe and test accuracy recorded in `docs/pretrained.json`
 * and in the model's `userDefinedMetadata`. Works in browsers (over HTTP); in Node use the same-named function
 * of `fashion-mnist-tfjs/node`, which reads the files from disk (Node's `fetch` cannot read `file:` URLs).
 *
 * @throws TypeError for an unknown option or a `url` that is not a string or URL; FashionMnistError `BAD_MODEL`
 * when the model cannot be fetched or built.
 * @example
 * ```ts
 * import { loadPretrained, predictCnnTopK } from 'fashion-mnist-tfjs';
 * const model = await loadPretrained({ url: '/models/fashion-cnn/model.json' });
 * const [top3] = await predictCnnTopK(model, pixels28x28, 3);
 * ```
 */
export async function loadPretrained(options?: LoadPretrainedOptions): Promise<tfl.LayersModel> {
  const raw = mergeOptions('loadPretrained', LOAD_PRETRAINED_DEFAULTS, options).url ?? pretrainedModelUrl();
  if (typeof raw !== 'string' && !(raw instanceof URL)) {
    throw new TypeError(`loadPretrained: option 'url' must be a string or URL, received ${show(raw)}`);
  }
  const url = String(raw);
  if (url.startsWith('file:')) {
    throw new FashionMnistError(
      'BAD_MODEL',
      `loadPretrained: ${url} is a file URL, which tfjs cannot fetch without tfjs-node; in Node import ` +
        `loadPretrained from 'fashion-mnist-tfjs/node', which reads the files directly`,
      { path: url },
    );
  }
  try {
    return await tfl.loadLayersModel(url);
  } catch (e) {
    throw new FashionMnistError('BAD_MODEL', `loadPretrained: cannot load ${url}: ${(e as Error).message}`, {
      path: url,
      cause: e,
    });
  }
}
