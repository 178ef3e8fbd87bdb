// The browser demo: `npm run demo:browser` serves it, `npm run build:browser` builds it into examples/browser/dist.
// It imports the library by its package name; the alias points that name at the sources so the demo always
// runs the code in this checkout (a published app would just `npm install fashion-mnist-tfjs`).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');

/** The pretrained models the page offers (src/cnn/pretrained.ts's PRETRAINED_MODELS); each is copied when present. */
const MODELS = ['fashion-cnn', 'fashion-vgg-bn'];
const present = () => MODELS.filter((name) => existsSync(join(repo, 'models', name, 'model.json')));

/** Files the page fetches at run time, by URL path: the embedded sample and the pretrained models present. */
function runtimeFiles(): Map<string, string> {
  const files = new Map<string, string>();
  for (const dir of ['data/sample', ...present().map((name) => `models/${name}`)]) {
    const abs = join(repo, dir);
    if (!existsSync(abs)) continue;
    for (const name of readdirSync(abs)) files.set(`${dir}/${name}`, join(abs, name));
  }
  return files;
}

/** Serves those files in development and copies them into the build, under the same paths. */
function packageFiles(): Plugin {
  return {
    name: 'fashion-mnist-files',
    configureServer(server) {
      const files = runtimeFiles();
      server.middlewares.use((req, res, next) => {
        const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\//, '');
        const file = files.get(path);
        if (!file) return next();
        res.setHeader(
          'content-type',
          path.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        );
        res.end(readFileSync(file));
      });
    },
    generateBundle() {
      for (const [path, file] of runtimeFiles()) {
        this.emitFile({ type: 'asset', fileName: path, source: readFileSync(file) });
      }
    },
  };
}

/**
 * `virtual:optional-webgl`: loads @tensorflow/tfjs-backend-webgl when it is installed, so the page tries WebGL
 * first; without it the page still builds and falls back to wasm, then cpu.
 */
function optionalWebgl(): Plugin {
  const id = 'virtual:optional-webgl';
  return {
    name: 'optional-webgl',
    resolveId: (source) => (source === id ? `\0${id}` : null),
    load(source) {
      if (source !== `\0${id}`) return null;
      try {
        createRequire(join(repo, 'package.json')).resolve('@tensorflow/tfjs-backend-webgl');
        return "export default async () => { await import('@tensorflow/tfjs-backend-webgl'); return true; };";
      } catch {
        return 'export default async () => false;';
      }
    },
  };
}

export default defineConfig({
  root: here,
  // The pretrained models this build carries; for one that is missing the page says so instead of fetching a 404.
  define: {
    __PRETRAINED_MODELS__: JSON.stringify(present()),
  },
  base: './',
  publicDir: false,
  // The package's entries, as in the repository's tsconfig.json "paths": the root and each subpath by capability.
  resolve: {
    alias: Object.entries(
      JSON.parse(readFileSync(join(repo, 'tsconfig.json'), 'utf8')).compilerOptions.paths as Record<
        string,
        string[]
      >,
    ).map(([name, [file]]) => ({ find: new RegExp(`^${name}$`), replacement: join(repo, file) })),
  },
  plugins: [packageFiles(), optionalWebgl()],
  build: { outDir: join(here, 'dist'), emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 4000 },
  logLevel: 'warn',
});
