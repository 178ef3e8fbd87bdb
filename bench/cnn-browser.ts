// Node side of `npm run bench:cnn -- --browser`: bundles bench/browser/cnn-page.ts with esbuild, serves it (on
// /isolated/ with the cross-origin isolation headers that let the wasm backend start its threaded build, on
// /plain/ without them, as most sites serve pages: the single-threaded build) plus the training images, and
// reads the training throughput that Debian's Chromium reaches for each requested page (with the thread count
// XNNPACK really used).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = '/usr/bin/chromium';

/** One page to measure: asking for `threads` XNNPACK threads, cross-origin isolated or not. */
export interface BrowserRun {
  threads: number;
  isolated: boolean;
  /** Also profile a second pass (tf.profile): kernel milliseconds per batch, by kernel. */
  profile?: boolean;
}

/** What one page measured. */
export interface BrowserResult {
  threads: number;
  isolated: boolean;
  imagesPerSec: number | null;
  note?: string;
  kernelMs?: Record<string, number>;
}

/** Images/s of trainCnn on the reference CNN in Chromium for each page (null where it failed). */
export async function browserTrainThroughput(
  images: Uint8Array,
  labels: Uint8Array,
  runs: readonly BrowserRun[],
  count: number,
): Promise<BrowserResult[]> {
  const bundle = await build({
    entryPoints: [join(root, 'bench/browser/cnn-page.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
    logLevel: 'silent',
    define: { 'process.env.NODE_ENV': '"production"' },
  });
  const js = bundle.outputFiles[0]!.contents;
  const wasmDir = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist');
  const server = createServer((req, res) => {
    const full = new URL(req.url ?? '/', 'http://x').pathname;
    const isolated = full.startsWith('/isolated/');
    const path = full.replace(/^\/(isolated|plain)\//, '/');
    const headers: Record<string, string> = isolated
      ? { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' }
      : {};
    const send = (type: string, body: Uint8Array | string) => {
      res.writeHead(200, { ...headers, 'Content-Type': type });
      res.end(body);
    };
    if (path === '/')
      return send('text/html', '<!doctype html><script type="module" src="/bench.js"></script>');
    if (path === '/bench.js') return send('text/javascript', js);
    if (path === '/images.bin') return send('application/octet-stream', images);
    if (path === '/labels.bin') return send('application/octet-stream', labels);
    const wasm = /^\/wasm\/([\w.-]+\.wasm)$/.exec(path);
    if (wasm) {
      try {
        return send('application/wasm', readFileSync(join(wasmDir, wasm[1]!)));
      } catch {
        // fall through to 404
      }
    }
    res.writeHead(404, headers);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
    ],
  });
  const results: BrowserResult[] = [];
  try {
    for (const { threads, isolated, profile } of runs) {
      const page = await browser.newPage();
      try {
        const dir = isolated ? 'isolated' : 'plain';
        await page.goto(
          `http://127.0.0.1:${port}/${dir}/?threads=${threads}&images=${count}${profile ? '&profile=1' : ''}`,
        );
        await page.waitForFunction(() => window.__benchResult !== undefined, undefined, { timeout: 600_000 });
        const r = await page.evaluate(() => window.__benchResult!);
        if ('error' in r)
          results.push({ threads, isolated, imagesPerSec: null, note: r.error.split('\n')[0] });
        else {
          results.push({
            threads: r.threads,
            isolated: r.isolated,
            imagesPerSec: r.imagesPerSec,
            ...(r.kernelMs ? { kernelMs: r.kernelMs } : {}),
            note:
              isolated && !r.isolated
                ? 'page not cross-origin isolated: no threads'
                : isolated && !r.multithread
                  ? 'wasm backend reports no multithread support'
                  : !isolated && r.multithread
                    ? 'plain page started the threaded build'
                    : undefined,
          });
        }
      } finally {
        await page.close();
      }
    }
  } finally {
    await browser.close();
    server.close();
  }
  return results;
}
