import type * as tfl from '@tensorflow/tfjs-layers';
import { registerRandomErasing } from '../augment/random-erasing-layer.js';
import { FashionMnistError } from '../errors.js';
import { requireBackend } from '../internal/backend.js';
import { badOption, mergeOptions, show } from '../internal/validate.js';
import { registerSeededDropout } from './dropout.js';
import { buildModel, checkTimeout, DEFAULT_TIMEOUT_MS, fetchModelArtifacts } from './io.js';

/**
 * The models shipped with the package, by name: the folder (inside the package) that holds each one's
 * `model.json` and weights. A new model is one more entry here (and its folder under `models/`).
 */
export const PRETRAINED_MODELS = Object.freeze({
  /**
   * The default: the reference CNN (`buildCnn()`, 412,778 parameters) trained on the full training set by
   * `scripts/train-pretrained.ts` (40 epochs, random erasing): 92.81 % on the 10,000 test images.
   */
  'fashion-cnn': { folder: 'models/fashion-cnn' },
  /**
   * The second model: the batch-normalised VGG-style network (`buildCnn({ architecture: 'vgg-bn' })`, 427,626
   * parameters) trained by `scripts/train-pretrained.ts` in two stages (presets `fashion-vgg-bn`, 30 epochs at
   * Adam 2e-3 cosine to 0, then `fashion-vgg-bn-stage2`, a warm restart for 24 epochs at 1e-3; batch 128, random
   * crop and flip, random erasing p 0.1): 94.07 % on the 10,000 test images (recorded in
   * `docs/pretrained-vgg-bn.json`). Slower per image (about 15 million multiply-adds
   * against 2.2 million) and more accurate.
   */
  'fashion-vgg-bn': { folder: 'models/fashion-vgg-bn' },
} as const);

/**
 * The name of a model shipped with the package (for {@link loadPretrained}).
 *
 * @example
 * ```ts
 * const name: PretrainedModelName = 'fashion-cnn';
 * ```
 */
export type PretrainedModelName = keyof typeof PRETRAINED_MODELS;

/** The model {@link loadPretrained} loads when no name is given. */
export const DEFAULT_PRETRAINED: PretrainedModelName = 'fashion-cnn';

/**
 * Where the default pretrained model lives inside the package.
 *
 * @example
 * ```ts
 * PRETRAINED_MODEL_DIR; // 'models/fashion-cnn'
 * ```
 */
export const PRETRAINED_MODEL_DIR = PRETRAINED_MODELS[DEFAULT_PRETRAINED].folder;

/** Checks a shipped model's name; returns it. */
export function checkPretrainedName(where: string, name: unknown): PretrainedModelName {
  if (typeof name !== 'string' || !Object.hasOwn(PRETRAINED_MODELS, name)) {
    const known = Object.keys(PRETRAINED_MODELS)
      .map((n) => `'${n}'`)
      .join(', ');
    const hint =
      typeof name === 'string' && /[/\\:.]/.test(name)
        ? `; to load your own copy pass { url: ${show(name)} } (or, in Node, { dir })`
        : '';
    throw badOption(`${where}: ${show(name)} is not a shipped model; the names are ${known}${hint}`);
  }
  return name as PretrainedModelName;
}

/**
 * URL of a shipped model's `model.json` next to this module: `../models/…` from the bundled `dist/`
 * files, `../../models/…` from `src/cnn/` when running the sources. Serving the package as it is (a CDN that
 * mirrors npm, or a dev server over `node_modules`) makes it resolve; a bundler that copies only the code does
 * not copy the weights, so there pass `url` to where you host `models/fashion-cnn/`.
 *
 * @throws FashionMnistError `BAD_OPTION` for a name that is not a shipped model.
 * @example
 * ```ts
 * pretrainedModelUrl(); // 'file:///…/node_modules/fashion-mnist-tfjs/models/fashion-cnn/model.json'
 * ```
 */
export function pretrainedModelUrl(name: PretrainedModelName = DEFAULT_PRETRAINED): string {
  const { folder } = PRETRAINED_MODELS[checkPretrainedName('pretrainedModelUrl', name)];
  const here = import.meta.url;
  const fromSources = /\/src\/cnn\/[^/]*$/.test(new URL(here).pathname);
  return new URL(`${fromSources ? '../../' : '../'}${folder}/model.json`, here).href;
}

/**
 * Options of `loadPretrained`, the same in every entry. Give at most one of `name`, `url`, `dir`.
 *
 * @example
 * ```ts
 * const options: LoadPretrainedOptions = { url: 'https://example.org/fashion-cnn/model.json', timeoutMs: 30_000 };
 * ```
 */
export interface LoadPretrainedOptions {
  /** A model shipped with the package: `'fashion-cnn'` (the default) or `'fashion-vgg-bn'`. */
  name?: PretrainedModelName;
  /** URL of a `model.json` (its weight files next to it), e.g. where you host `models/fashion-cnn/`. */
  url?: string | URL;
  /**
   * Node only (`fashion-mnist-tfjs/node`): a directory holding `model.json` and its weight files. The
   * universal entry refuses it with `UNSUPPORTED`.
   */
  dir?: string;
  /**
   * Milliseconds each file (`model.json`, each weight file) may take to arrive, from request to last byte: an
   * integer from 1 to 2^31 − 1 (default 60 000). Past it the load fails with `TIMEOUT`.
   */
  timeoutMs?: number;
}

const LOAD_PRETRAINED_DEFAULTS: Readonly<LoadPretrainedOptions> = Object.freeze({
  name: undefined,
  url: undefined,
  dir: undefined,
  timeoutMs: DEFAULT_TIMEOUT_MS,
});

/** Where {@link loadPretrained} reads from, once its argument is checked. */
export type PretrainedSource =
  | { kind: 'name'; name: PretrainedModelName; timeoutMs: number }
  | { kind: 'url'; url: string; timeoutMs: number }
  | { kind: 'dir'; dir: string; timeoutMs: number };

/** Checks `loadPretrained`'s argument (a name or the options), the same way in every entry. */
export function resolvePretrained(
  where: string,
  nameOrOptions: PretrainedModelName | LoadPretrainedOptions | undefined,
): PretrainedSource {
  const o =
    typeof nameOrOptions === 'string'
      ? { ...LOAD_PRETRAINED_DEFAULTS, name: checkPretrainedName(where, nameOrOptions) }
      : mergeOptions(where, LOAD_PRETRAINED_DEFAULTS, nameOrOptions);
  const timeoutMs = checkTimeout(where, o.timeoutMs);
  const given = (['name', 'url', 'dir'] as const).filter((k) => o[k] !== undefined);
  if (given.length > 1) {
    throw badOption(
      `${where}: options ${given.map((k) => `'${k}'`).join(' and ')} were both given; pass one: name (a ` +
        'model shipped with the package), url (a model.json over HTTP) or dir (a folder, Node only)',
    );
  }
  if (o.url !== undefined) {
    if (typeof o.url !== 'string' && !(o.url instanceof URL)) {
      throw badOption(`${where}: option 'url' must be a string or URL, received ${show(o.url)}`);
    }
    if (o.url === '') throw badOption(`${where}: option 'url' must not be empty`);
    return { kind: 'url', url: String(o.url), timeoutMs };
  }
  if (o.dir !== undefined) {
    if (typeof o.dir !== 'string' || o.dir === '') {
      throw badOption(`${where}: option 'dir' must be a non-empty string path, received ${show(o.dir)}`);
    }
    return { kind: 'dir', dir: o.dir, timeoutMs };
  }
  return { kind: 'name', name: checkPretrainedName(where, o.name ?? DEFAULT_PRETRAINED), timeoutMs };
}

/** An absolute URL for `url`: resolved against the page in a browser; a relative one in Node is refused. */
export function absoluteUrl(where: string, url: string): URL {
  const base = (globalThis as { document?: { baseURI?: string }; location?: { href?: string } }).document
    ?.baseURI;
  const page = base ?? (globalThis as { location?: { href?: string } }).location?.href;
  try {
    return new URL(url, page);
  } catch (e) {
    throw badOption(
      `${where}: ${show(url)} is not an absolute URL and there is no page to resolve it against (this is ` +
        "not a browser); pass an absolute URL such as 'https://…/model.json', or in Node use { dir } with the " +
        "loadPretrained of 'fashion-mnist-tfjs/node'",
      e,
    );
  }
}

/**
 * Loads a pretrained Fashion-MNIST CNN: by default the one shipped with the package, the reference network
 * trained on the full training set by `scripts/train-pretrained.ts` (its recipe and test accuracy are in its
 * `userDefinedMetadata`). `loadPretrained('fashion-cnn')` is `loadPretrained({ name: 'fashion-cnn' })`. This
 * universal version fetches `model.json` and the weights (in a browser, from next to this module unless `url`
 * is given); in Node use the same-named function of `fashion-mnist-tfjs/node`, which also reads folders.
 *
 * Every load follows the same rules as `loadModel` of `/node`: the manifest may name only files in the model's
 * folder, each group of weight files must hold exactly the bytes its weights need (a longer body is cut off as
 * soon as it passes), `model.json` at most 32 MiB and weights at most 1 GiB, and each request is abandoned
 * after `timeoutMs`. The model comes back compiled (it can be evaluated or fine-tuned with `trainCnn`); nothing
 * is left in memory when the load fails, and `model.dispose()` frees all of it.
 *
 * @throws FashionMnistError `BAD_OPTION` for a bad option or name; `UNSUPPORTED` for `dir` or a `file:` URL
 * (use `fashion-mnist-tfjs/node`); `NO_BACKEND` when no TensorFlow.js backend is ready; `DOWNLOAD_FAILED` when a
 * request fails; `TIMEOUT`; `BAD_MODEL` for files that break the rules or that tfjs cannot build; `TOO_LARGE`.
 * @example
 * ```ts
 * import { loadPretrained, predictCnnTopK } from 'fashion-mnist-tfjs';
 * const model = await loadPretrained({ url: '/models/fashion-cnn/model.json' });
 * const [top3] = await predictCnnTopK(model, pixels28x28, 3);
 * ```
 */
export async function loadPretrained(
  nameOrOptions?: PretrainedModelName | LoadPretrainedOptions,
): Promise<tfl.LayersModel> {
  const where = 'loadPretrained';
  const source = resolvePretrained(where, nameOrOptions);
  if (source.kind === 'dir') {
    throw new FashionMnistError(
      'UNSUPPORTED',
      `${where}: option 'dir' reads a folder from disk, which this entry cannot do; in Node import ` +
        "loadPretrained from 'fashion-mnist-tfjs/node', or here pass { url } to where the model is served",
      { path: source.dir },
    );
  }
  const url = absoluteUrl(where, source.kind === 'url' ? source.url : pretrainedModelUrl(source.name)).href;
  if (url.startsWith('file:')) {
    throw new FashionMnistError(
      'UNSUPPORTED',
      `${where}: ${url} is a file URL, which fetch cannot read outside a browser; in Node import ` +
        "loadPretrained from 'fashion-mnist-tfjs/node', which reads the files directly",
      { path: url },
    );
  }
  requireBackend(where);
  registerRandomErasing();
  // Dropout layers come back as SeededDropout (the same layer under the same class name), so that trainCnn can
  // seed their masks and a resumed run replays an uninterrupted one.
  registerSeededDropout();
  const artifacts = await fetchModelArtifacts(url, where, source.timeoutMs);
  return buildModel(artifacts, where, url);
}
