// Development only: the k-NN worker-thread script built from the TypeScript sources, for tests, benchmarks and
// examples that run from `src/` (vitest, tsx).
//
// Why: the library starts its workers from the built file next to its own module (dist/knn-worker.{js,cjs} in
// the package) and never through a TypeScript loader. From the sources that file is src/knn/knn-worker.ts,
// which Node 20 cannot start: a worker's entry does not go through the parent's `--import tsx` hooks, and
// vitest has no loader at all. So code that runs from the sources bundles the worker once with esbuild
// (tfjs stays external and resolves from this repository's node_modules) and passes the result as
// `knnWorkerPool({ workerUrl })`.
import { rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
// @ts-expect-error -- a plain .mjs build script without type declarations
import { buildDevWorker } from './build-dev-worker.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Builds src/knn/knn-worker.ts into `.cache/knn-worker-<pid>/knn-worker.mjs` (gitignored; inside the repository
 * so that `@tensorflow/*` resolve) and returns its URL plus a function that deletes it. Each process builds
 * its own copy, so parallel runs never share or race on a file.
 *
 * @example
 * ```ts
 * const worker = await buildDevKnnWorker();
 * const knn = new KnnClassifier({ search: knnWorkerPool({ workers: 2, workerUrl: worker.url }) });
 * // … later
 * worker.remove();
 * ```
 */
export async function buildDevKnnWorker(): Promise<{ url: URL; remove: () => void }> {
  const dir = join(root, '.cache', `knn-worker-${process.pid}-${Date.now().toString(36)}`);
  const file = await buildDevWorker(join(dir, 'knn-worker.mjs'));
  return { url: pathToFileURL(file), remove: () => rmSync(dir, { recursive: true, force: true }) };
}
