// The generated module (src/kernels/wasm.generated.ts, gitignored) must be what the WAT sources assemble to
// now: `npm test` rebuilds it first, but a direct `npx vitest` after editing a .wat file would otherwise
// test stale bytes. And no WebAssembly is emitted by hand in src/: every module comes from a .wat source.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as generated from '../../src/kernels/wasm.generated.js';

const root = join(__dirname, '..', '..');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('WebAssembly build', () => {
  it('the generated module is up to date with src/kernels/*.wat (else: npm run build:wasm)', () => {
    expect(() =>
      execFileSync(process.execPath, [join(root, 'scripts', 'build-wasm.mjs'), '--check'], { stdio: 'pipe' }),
    ).not.toThrow();
  });

  it('every generated module validates, and src/ holds no hand-written wasm magic number', () => {
    for (const [name, b64] of Object.entries(generated)) {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      expect(WebAssembly.validate(bytes), name).toBe(true);
    }
    for (const file of sources(join(root, 'src'))) {
      if (file.endsWith('wasm.generated.ts')) continue;
      const text = readFileSync(file, 'utf8');
      expect(/0x00,\s*0x61,\s*0x73,\s*0x6d/i.test(text), file).toBe(false);
    }
  });
});
