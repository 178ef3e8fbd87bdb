import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// The root entry must bundle for a browser: esbuild's browser platform refuses any Node built-in that is reachable
// (packages that map one away through their "browser" field, as seedrandom does for crypto, are fine).
describe('universal entry', () => {
  it('bundles for the browser without Node built-ins', async () => {
    const result = await build({
      entryPoints: ['src/index.ts'],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'browser',
      format: 'esm',
      external: ['@tensorflow/*'],
      logLevel: 'silent',
    }).catch((e: { errors?: { text: string }[] }) => ({ failed: (e.errors ?? []).map((x) => x.text) }));
    expect('failed' in result ? result.failed : []).toEqual([]);
    if ('failed' in result) return;
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((p) => p.startsWith('node:') || /(^|\/)node\.ts$/.test(p))).toEqual([]);
    expect(inputs).toContain('src/data/load.ts');
  });

  it('would catch a Node built-in (the check can fail)', async () => {
    const failed = await build({
      stdin: {
        contents: "import { readFileSync } from 'node:fs'; console.log(readFileSync);",
        resolveDir: '.',
      },
      bundle: true,
      write: false,
      platform: 'browser',
      logLevel: 'silent',
    }).then(
      () => false,
      () => true,
    );
    expect(failed).toBe(true);
  });
});
