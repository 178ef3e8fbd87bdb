// Backend selection for Node. No backend is a dependency of this library: each candidate is loaded
// with a dynamic import() of a package the application may or may not have installed, and a
// failure is recorded as a reason instead of an exception until no candidate is left.
import * as tf from '@tensorflow/tfjs-core';
import { FashionMnistError } from '../errors.js';
import { badOption, checkBoolean, mergeOptions, show } from '../internal/validate.js';
import { installWasmTrainingKernels } from './wasm/install.js';

/**
 * Backends {@link selectBackend} knows, fastest first (the order {@link useFastestBackend} tries).
 * @example
 * ```ts
 * for (const c of BACKEND_CANDIDATES) console.log(c, BACKEND_PACKAGES[c].package);
 * ```
 */
export const BACKEND_CANDIDATES: readonly BackendCandidate[] = Object.freeze([
  'tfjs-node-gpu',
  'tfjs-node',
  'wasm',
  'cpu',
]);

/**
 * One of the backends {@link selectBackend} knows: `'tfjs-node-gpu'`, `'tfjs-node'`, `'wasm'`, `'cpu'`.
 * @example
 * ```ts
 * const name: BackendCandidate = 'wasm';
 * await selectBackend(name);
 * ```
 */
export type BackendCandidate = 'tfjs-node-gpu' | 'tfjs-node' | 'wasm' | 'cpu';

/**
 * The npm package each candidate needs, and the tfjs backend name it registers.
 * @example
 * ```ts
 * console.log(BACKEND_PACKAGES['tfjs-node'].package); // '@tensorflow/tfjs-node'
 * ```
 */
export const BACKEND_PACKAGES: Readonly<Record<BackendCandidate, { package: string; backend: string }>> =
  Object.freeze({
    'tfjs-node-gpu': { package: '@tensorflow/tfjs-node-gpu', backend: 'tensorflow' },
    'tfjs-node': { package: '@tensorflow/tfjs-node', backend: 'tensorflow' },
    wasm: { package: '@tensorflow/tfjs-backend-wasm', backend: 'wasm' },
    cpu: { package: '@tensorflow/tfjs-backend-cpu', backend: 'cpu' },
  });

/**
 * A candidate that was not used, and why.
 * @example
 * ```ts
 * const { skipped } = await useFastestBackend();
 * for (const s of skipped) console.log(`${s.candidate}: ${s.reason}`);
 * ```
 */
export interface SkippedBackend {
  candidate: BackendCandidate;
  package: string;
  reason: string;
}

/**
 * What {@link selectBackend} / {@link useFastestBackend} set up.
 * @example
 * ```ts
 * const choice: BackendSelection = await useFastestBackend();
 * console.log(choice.backend, choice.package);
 * ```
 */
export interface BackendSelection {
  /** The candidate now in use. */
  candidate: BackendCandidate;
  /** The tfjs backend name now active (`tf.getBackend()`): `tensorflow`, `wasm` or `cpu`. */
  backend: string;
  /** The npm package that provides it. */
  package: string;
  /** True when the wasm training kernels are installed (wasm only). */
  trainingKernels: boolean;
  /** Faster candidates that were tried first and failed, with the reason. */
  skipped: SkippedBackend[];
}

/**
 * Options of {@link selectBackend}.
 * @example
 * ```ts
 * await selectBackend('wasm', { trainingKernels: true });
 * ```
 */
export interface SelectBackendOptions {
  /** For wasm: install the training kernels (`installWasmTrainingKernels`) so CNNs can train. Default true. */
  trainingKernels?: boolean;
}
// XNNPACK threads for wasm in Node need a patch of globals: that lives in the entry whose name says so,
// `fashion-mnist-tfjs/experimental-wasm-threads` (call its startWasmWithThreads before selecting 'wasm').

/**
 * Options of {@link useFastestBackend}.
 * @example
 * ```ts
 * await useFastestBackend({ candidates: ['wasm', 'cpu'] });
 * ```
 */
export interface UseFastestBackendOptions extends SelectBackendOptions {
  /** Candidates to try, in order. Default: `['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu']`. */
  candidates?: readonly BackendCandidate[];
}

/**
 * Defaults of {@link selectBackend}.
 * @example
 * ```ts
 * console.log(SELECT_BACKEND_DEFAULTS.trainingKernels); // true
 * ```
 */
export const SELECT_BACKEND_DEFAULTS: Readonly<Required<SelectBackendOptions>> = Object.freeze({
  trainingKernels: true,
});

/**
 * Defaults of {@link useFastestBackend}.
 * @example
 * ```ts
 * console.log(USE_FASTEST_BACKEND_DEFAULTS.candidates); // ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu']
 * ```
 */
export const USE_FASTEST_BACKEND_DEFAULTS: Readonly<Required<UseFastestBackendOptions>> = Object.freeze({
  ...SELECT_BACKEND_DEFAULTS,
  candidates: BACKEND_CANDIDATES,
});

function checkCandidate(where: string, name: string, value: unknown): BackendCandidate {
  const allowed = BACKEND_CANDIDATES.map((c) => `'${c}'`).join(', ');
  if (typeof value !== 'string')
    throw badOption(`${where}: ${name} must be one of ${allowed}, received ${show(value)}`);
  if (!(BACKEND_CANDIDATES as readonly string[]).includes(value)) {
    throw badOption(`${where}: ${name} must be one of ${allowed}, received ${show(value)}`);
  }
  return value as BackendCandidate;
}

function firstLine(e: unknown): string {
  return String(e instanceof Error ? e.message : e).split('\n')[0];
}

/** Tries one candidate; returns null on success, else why it cannot be used. */
async function tryCandidate(candidate: BackendCandidate, trainingKernels: boolean): Promise<string | null> {
  const { package: pkg, backend } = BACKEND_PACKAGES[candidate];
  try {
    // A variable specifier: bundlers and the type checker must not resolve an optional package.
    const specifier: string = pkg;
    await import(specifier);
  } catch (e) {
    const missing = /Cannot find (module|package)|ERR_MODULE_NOT_FOUND/.test(String(e));
    return missing
      ? `${pkg} is not installed (npm install ${pkg})`
      : `${pkg} failed to load: ${firstLine(e)}`;
  }
  if (tf.findBackendFactory(backend) == null) {
    return (
      `${pkg} loaded but registered no '${backend}' backend with this copy of @tensorflow/tfjs-core ` +
      `(${tf.version_core}); install matching versions`
    );
  }
  try {
    if (candidate === 'wasm' && trainingKernels) installWasmTrainingKernels();
    if (!(await tf.setBackend(backend))) return `the '${backend}' backend from ${pkg} failed to initialise`;
    await tf.ready();
  } catch (e) {
    return `the '${backend}' backend from ${pkg} failed to initialise: ${firstLine(e)}`;
  }
  return null;
}

function selection(
  candidate: BackendCandidate,
  trainingKernels: boolean,
  skipped: SkippedBackend[],
): BackendSelection {
  return {
    candidate,
    backend: tf.getBackend(),
    package: BACKEND_PACKAGES[candidate].package,
    trainingKernels: candidate === 'wasm' && trainingKernels,
    skipped,
  };
}

/**
 * Makes `name` the active tfjs backend, loading its package with a dynamic `import()` (no backend is
 * a dependency of this library). For `wasm` it also installs the training kernels, so that
 * convolutional networks can train on it. Node only (`tfjs-node*` are native add-ons).
 *
 * @throws FashionMnistError `BAD_OPTION` for a name that is not one of `'tfjs-node-gpu'`, `'tfjs-node'`, `'wasm'`,
 *   `'cpu'`.
 * @throws FashionMnistError `NOT_FOUND` when the package is not installed or the backend does not
 *   start; the message names the npm package to install.
 * @example
 * ```ts
 * import { selectBackend } from 'fashion-mnist-tfjs/node';
 *
 * const { backend, trainingKernels } = await selectBackend('wasm');
 * console.log(backend, trainingKernels); // 'wasm' true
 * ```
 */
export async function selectBackend(
  name: BackendCandidate,
  options?: SelectBackendOptions,
): Promise<BackendSelection> {
  const where = 'selectBackend';
  const candidate = checkCandidate(where, 'name', name);
  const o = mergeOptions<Required<SelectBackendOptions>>(where, SELECT_BACKEND_DEFAULTS, options);
  const trainingKernels = checkBoolean(where, 'trainingKernels', o.trainingKernels);
  const failure = await tryCandidate(candidate, trainingKernels);
  if (failure != null) {
    throw new FashionMnistError('NOT_FOUND', `${where}('${candidate}'): ${failure}`);
  }
  return selection(candidate, trainingKernels, []);
}

/**
 * Picks the fastest backend the application has installed: `@tensorflow/tfjs-node-gpu`, then
 * `@tensorflow/tfjs-node`, then `wasm` (with the training kernels), then `cpu`; reports the
 * choice and why each faster candidate was skipped.
 *
 * @throws FashionMnistError `NOT_FOUND` when no candidate works (the message lists every reason).
 * @example
 * ```ts
 * import { useFastestBackend } from 'fashion-mnist-tfjs/node';
 *
 * const choice = await useFastestBackend();
 * console.log(`using ${choice.backend}`);
 * for (const s of choice.skipped) console.log(`skipped ${s.candidate}: ${s.reason}`);
 * ```
 */
export async function useFastestBackend(options?: UseFastestBackendOptions): Promise<BackendSelection> {
  const where = 'useFastestBackend';
  const o = mergeOptions<Required<UseFastestBackendOptions>>(where, USE_FASTEST_BACKEND_DEFAULTS, options);
  const trainingKernels = checkBoolean(where, 'trainingKernels', o.trainingKernels);
  if (!Array.isArray(o.candidates)) {
    throw badOption(
      `${where}: option 'candidates' must be an array of backend names, received ${show(o.candidates)}`,
    );
  }
  if (o.candidates.length === 0) {
    throw badOption(`${where}: option 'candidates' must name at least one backend, received array(0)`);
  }
  const candidates = o.candidates.map((c, i) => checkCandidate(where, `option 'candidates[${i}]'`, c));
  const skipped: SkippedBackend[] = [];
  for (const candidate of candidates) {
    const failure = await tryCandidate(candidate, trainingKernels);
    if (failure == null) return selection(candidate, trainingKernels, skipped);
    skipped.push({ candidate, package: BACKEND_PACKAGES[candidate].package, reason: failure });
  }
  throw new FashionMnistError(
    'NOT_FOUND',
    `${where}: no backend could be used:\n${skipped.map((s) => `- ${s.candidate}: ${s.reason}`).join('\n')}`,
  );
}
