import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The package's own entry names resolve to the sources, so tests, examples and docs import
// 'fashion-mnist-tfjs/…' exactly as users do (tsconfig.json "paths" says the same for tsc and tsx).
const src = (p: string) => fileURLToPath(new URL(`./src/${p}`, import.meta.url));
const ENTRIES: Record<string, string> = {
  node: 'node.ts',
  data: 'data/index.ts',
  augment: 'augment/index.ts',
  knn: 'knn/index.ts',
  cnn: 'cnn/index.ts',
  metrics: 'metrics/index.ts',
  report: 'report/index.ts',
  'wasm-training': 'wasm-training.ts',
  'experimental-wasm-threads': 'experimental-wasm-threads.ts',
};

export default defineConfig({
  resolve: {
    alias: [
      ...Object.entries(ENTRIES).map(([name, file]) => ({
        find: new RegExp(`^fashion-mnist-tfjs/${name}$`),
        replacement: src(file),
      })),
      { find: /^fashion-mnist-tfjs$/, replacement: src('index.ts') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global.ts'],
    // Generous limits: the suite must pass on a slow or busy machine; no test relies on speed.
    testTimeout: 300_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
