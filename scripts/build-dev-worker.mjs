// Development only: builds the worker-thread scripts from the TypeScript sources into .cache/dev/knn-worker.mjs
// and .cache/dev/cnn-worker.mjs (gitignored), where the sources' knnWorkerPool and cnnWorkerPool look for them
// by default.
//
// Why: the package starts its workers from the built file next to its module (dist/knn-worker.{js,cjs}) and never
// through a TypeScript loader. From the sources that file would be src/knn/knn-worker.ts, which Node 20 cannot
// start (a worker's entry does not go through the parent's tsx hooks; vitest has no loader at all). So `npm ci`
// (prepare) and the test suite (vitest globalSetup) bundle it once with esbuild, tfjs left external.
// Written to a temporary name and renamed, so a concurrent run never sees half a file.
import { mkdirSync, renameSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * Builds the k-NN worker into `file` (default .cache/dev/knn-worker.mjs; inside the repository, so @tensorflow/*
 * resolve). Called without a file, it also builds the CNN training worker (.cache/dev/cnn-worker.mjs).
 */
export async function buildDevWorker(file) {
  if (file === undefined) {
    await buildDevCnnWorker();
    return bundle('src/knn/knn-worker.ts', join(root, '.cache', 'dev', 'knn-worker.mjs'));
  }
  return bundle('src/knn/knn-worker.ts', file);
}

/** Builds the CNN training worker (cnnWorkerPool's) into `file` (default .cache/dev/cnn-worker.mjs). */
export async function buildDevCnnWorker(file = join(root, '.cache', 'dev', 'cnn-worker.mjs')) {
  return bundle('src/cnn/cnn-worker.ts', file);
}

async function bundle(entry, file) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.mjs`;
  await build({
    entryPoints: [join(root, entry)],
    outfile: tmp,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: ['@tensorflow/*'],
    logLevel: 'silent',
  });
  renameSync(tmp, file);
  return file;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await buildDevWorker();
