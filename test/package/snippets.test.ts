// Docs that run as written: every code block of README.md and docs/*.md is a complete program, extracted from the
// Markdown (one source of truth) and run against the built, packed, installed package — Node blocks under Node
// (after a strict type-check with tsc against the installed declarations), ```ts browser blocks in headless
// Chromium (bundled by esbuild from the installed package, served with the package's files). A block is skipped
// only with a reason written in the Markdown (```ts skip: <reason>). The count is printed.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, relative } from 'node:path';
import { build } from 'esbuild';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/chromium.js';
import { installConsumer, PEERS, packOnce, ROOT, WASM_PEER } from './packed.js';
import { allSnippets, extractSnippets, type Snippet, SnippetRuleError } from './snippets.js';

const snippets = allSnippets(ROOT);
const run = snippets.filter((s) => s.mode === 'node' || s.mode === 'browser');
const skipped = snippets.filter((s) => s.mode === 'skip');
const where = (s: Snippet) => `${s.file}:${s.line}`;

let work: string;
let consumer: string;
let dir: string;
/** tsc's messages per snippet file name. */
const typeErrors = new Map<string, string[]>();

function typeCheck(files: string[]): void {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    // tfjs-layers 4.22's own declarations fail a strict check of library files (TS2411); ours are still checked
    // through every use in the snippets.
    skipLibCheck: true,
    typeRoots: [join(ROOT, 'node_modules', '@types')],
    types: ['node'],
  };
  const program = ts.createProgram(files, options);
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const name = d.file ? d.file.fileName : '(global)';
    const at = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const text = `${at ? `line ${at.line + 1}: ` : ''}TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    typeErrors.set(name, [...(typeErrors.get(name) ?? []), text]);
  }
}

function tail(text: string, n = 4000): string {
  return text.length > n ? `…${text.slice(-n)}` : text;
}

/** Files the browser page can fetch: the installed package's own files at the site root, like a CDN of it. */
function siteFiles(pkg: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(`/${relative(pkg, p)}`, p);
    }
  };
  walk(pkg);
  return files;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.html': 'text/html',
  '.wasm': 'application/wasm',
};

describe('the rules for code blocks', () => {
  it('reads languages and tags, and refuses a skip without a reason or an unknown language', () => {
    const md = [
      '```ts',
      'a()',
      '```',
      '```ts browser',
      'b()',
      '```',
      '```ts skip: needs the network',
      'c()',
      '```',
      '```sh',
      'npm test',
      '```',
    ].join('\n');
    expect(extractSnippets('x.md', md).map((s) => [s.line, s.mode, s.reason])).toEqual([
      [1, 'node', undefined],
      [4, 'browser', undefined],
      [7, 'skip', 'needs the network'],
      [10, 'shown', undefined],
    ]);
    expect(() => extractSnippets('x.md', '```ts skip:\nx\n```')).toThrow(SnippetRuleError);
    expect(() => extractSnippets('x.md', '```\nx\n```')).toThrow(/language ''/);
    expect(() => extractSnippets('x.md', '```tsx\nx\n```')).toThrow(/language 'tsx'/);
    expect(() => extractSnippets('x.md', '```ts\nx\n')).toThrow(/never closed/);
  });

  it('finds the docs and their blocks', () => {
    expect(snippets.map((s) => s.file)).toContain('README.md');
    expect(run.length).toBeGreaterThan(5);
  });
});

describe('the code blocks of README.md and docs/*.md, run against the packed package', () => {
  beforeAll(async () => {
    const packed = await packOnce();
    work = mkdtempSync(join(tmpdir(), 'fmnist-snippets-'));
    consumer = join(work, 'consumer');
    installConsumer(consumer, packed.tarball, [...PEERS, WASM_PEER]);
    dir = join(consumer, 'snippets');
    mkdirSync(dir);
    const files: string[] = [];
    for (const s of run) {
      const file = join(dir, `${s.id}.ts`);
      writeFileSync(file, s.code);
      files.push(file);
      if (s.mode === 'node') {
        const js = ts.transpileModule(s.code, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText;
        writeFileSync(join(dir, `${s.id}.mjs`), js);
      }
    }
    typeCheck(files);
    console.log(
      `docs code blocks: ${run.length} run (${run.filter((s) => s.mode === 'node').length} Node, ` +
        `${run.filter((s) => s.mode === 'browser').length} browser), ${skipped.length} skipped` +
        skipped.map((s) => `\n  skipped ${where(s)}: ${s.reason}`).join(''),
    );
  }, 900_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const s of skipped) it.skip(`${where(s)} — skipped: ${s.reason}`, () => {});

  for (const s of run.filter((x) => x.mode === 'node')) {
    it(`${where(s)} runs under Node`, () => {
      const errors = typeErrors.get(join(dir, `${s.id}.ts`)) ?? [];
      expect(errors, `${where(s)} does not type-check:\n${errors.join('\n')}`).toEqual([]);
      const cwd = mkdtempSync(join(work, 'cwd-'));
      const r = spawnSync(process.execPath, [join(dir, `${s.id}.mjs`)], {
        cwd,
        encoding: 'utf8',
        timeout: 600_000,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, NO_COLOR: '1' },
      });
      const out = `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n(${r.error.message})` : ''}`;
      expect(r.status, `${where(s)} failed (exit ${r.status}, signal ${r.signal}):\n${tail(out)}`).toBe(0);
    }, 900_000);
  }

  const browserSnippets = run.filter((x) => x.mode === 'browser');
  describe.skipIf(!HAS_CHROMIUM)(`in headless Chromium (${CHROMIUM})`, () => {
    for (const s of browserSnippets) {
      it(`${where(s)} runs in the browser`, async () => {
        const errors = typeErrors.get(join(dir, `${s.id}.ts`)) ?? [];
        expect(errors, `${where(s)} does not type-check:\n${errors.join('\n')}`).toEqual([]);
        const bundle = await build({
          entryPoints: [join(dir, `${s.id}.ts`)],
          bundle: true,
          write: false,
          platform: 'browser',
          format: 'esm',
          target: 'es2022',
          logLevel: 'silent',
        });
        const site = siteFiles(join(consumer, 'node_modules', 'fashion-mnist-tfjs'));
        const origin = 'http://127.0.0.1:4173';
        const page = `<!doctype html><meta charset="utf-8"><script type="module">
          try { await import('/snippet.js'); window.__snippet = { ok: true }; }
          catch (e) { window.__snippet = { ok: false, error: String((e && e.stack) || e) }; }
        </script>`;
        const browser = await launchChromium();
        const log: string[] = [];
        try {
          const context = await browser.newContext();
          // Every request is answered here (the machine may be offline): the page, the bundle, the package's files.
          await context.route('**/*', (route) => {
            const url = new URL(route.request().url());
            if (url.origin !== origin) return route.fulfill({ status: 404, body: 'offline' });
            if (url.pathname === '/') return route.fulfill({ contentType: 'text/html', body: page });
            if (url.pathname === '/snippet.js') {
              return route.fulfill({ contentType: 'text/javascript', body: bundle.outputFiles[0].text });
            }
            const file = site.get(url.pathname);
            if (!file) return route.fulfill({ status: 404, body: 'not found' });
            return route.fulfill({
              contentType: TYPES[extname(file)] ?? 'application/octet-stream',
              body: readFileSync(file),
            });
          });
          const tab = await context.newPage();
          tab.on('console', (m) => log.push(`${m.type()}: ${m.text()}`));
          tab.on('pageerror', (e) => log.push(`pageerror: ${e.message}`));
          await tab.goto(`${origin}/`);
          await tab.waitForFunction(() => (window as { __snippet?: unknown }).__snippet !== undefined, null, {
            timeout: 600_000,
          });
          const result = (await tab.evaluate(() => (window as { __snippet?: unknown }).__snippet)) as {
            ok: boolean;
            error?: string;
          };
          expect(result.ok, `${where(s)} failed in Chromium: ${result.error}\n${tail(log.join('\n'))}`).toBe(
            true,
          );
        } finally {
          await browser.close();
        }
      }, 900_000);
    }
  });
});
