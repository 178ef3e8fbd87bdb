import { defineConfig, type Options } from 'tsup';

// The public entries (docs/api.md): each gets ESM, CommonJS and types. Plus cli (the `fashion-mnist` binary,
// package.json "bin": dist/cli.js, executable through its shebang), knn-worker and cnn-worker (the worker-thread
// scripts that knnWorkerPool and cnnWorkerPool start by URL next to their own module, so each must be a file of
// its own).
const typed = {
  index: 'src/index.ts',
  node: 'src/node.ts',
  data: 'src/data/index.ts',
  augment: 'src/augment/index.ts',
  knn: 'src/knn/index.ts',
  cnn: 'src/cnn/index.ts',
  metrics: 'src/metrics/index.ts',
  report: 'src/report/index.ts',
  'wasm-training': 'src/wasm-training.ts',
  'experimental-wasm-threads': 'src/experimental-wasm-threads.ts',
};

const common: Options = {
  sourcemap: true,
  target: 'es2022',
  splitting: true,
  treeshake: true,
  external: [/^@tensorflow\//],
};

// Two builds because of shims. CommonJS needs them: `import.meta.url` (used to find files next to a module) is
// empty there without the shim. ESM must not have them: tsup's ESM shim imports 'path' and 'url' into a chunk that
// the universal entry shares, which breaks every browser bundle of the root entry (test/package/pack.test.ts).
// The binary is ESM only (package.json "bin" names dist/cli.js), so the CommonJS build leaves it out. Each build
// cleans only its own file types, since the two run at the same time.
export default defineConfig([
  {
    ...common,
    entry: {
      ...typed,
      cli: 'src/cli/main.ts',
      'knn-worker': 'src/knn/knn-worker.ts',
      'cnn-worker': 'src/cnn/cnn-worker.ts',
    },
    format: ['esm'],
    shims: false,
    dts: { entry: typed },
    clean: ['**/*.js', '**/*.js.map', '**/*.d.ts'],
  },
  {
    ...common,
    entry: { ...typed, 'knn-worker': 'src/knn/knn-worker.ts', 'cnn-worker': 'src/cnn/cnn-worker.ts' },
    format: ['cjs'],
    shims: true,
    dts: { entry: typed },
    clean: ['**/*.cjs', '**/*.cjs.map', '**/*.d.cts'],
  },
]);
