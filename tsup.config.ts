import { defineConfig, type Options } from 'tsup';

// Entries: index (universal), node (Node entry), wasm-training (opt-in `fashion-mnist-tfjs/wasm-training`), cli
// (the `fashion-mnist` binary, package.json "bin": dist/cli.js, executable through its shebang) and knn-worker (the
// worker-thread script ParallelKnnClassifier starts by URL next to its own module, so it must be a file of its own).
const typed = { index: 'src/index.ts', node: 'src/node.ts', 'wasm-training': 'src/wasm-training.ts' };
const entry = {
  ...typed,
  cli: 'src/cli/main.ts',
  'knn-worker': 'src/knn/knn-worker.ts',
};

const common: Options = {
  entry,
  sourcemap: true,
  target: 'es2022',
  splitting: true,
  treeshake: true,
  external: [/^@tensorflow\//],
};

// Two builds because of shims. CommonJS needs them: `import.meta.url` (used to find files next to a module) is
// empty there without the shim. ESM must not have them: tsup's ESM shim imports 'path' and 'url' into a chunk that
// the universal entry shares, which breaks every browser bundle of the root entry (test/package/pack.test.ts).
// Each build cleans only its own file types, since the two run at the same time.
export default defineConfig([
  {
    ...common,
    format: ['esm'],
    shims: false,
    dts: { entry: typed },
    clean: ['**/*.js', '**/*.js.map', '**/*.d.ts'],
  },
  {
    ...common,
    format: ['cjs'],
    shims: true,
    dts: { entry: typed },
    clean: ['**/*.cjs', '**/*.cjs.map', '**/*.d.cts'],
  },
]);
