// Node side of `npm run bench:cnn -- --browser`: bundles bench/browser/cnn-page.ts with esbuild, serves it with
// the cross-origin isolation headers that let the wasm backend start its threaded build, plus the training
// images, and reads the training throughput that Debian's Chromium reaches for each requested thread count
// (with the count XNNPACK really used).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const CHROMIUM = '/usr/bin/chromium';

/** Images/s of trainCnn on the reference CNN in Chromium for each thread count (null where it failed). */
export async function browserTrainThroughput(
  images: Uint8Array,
  labels: Uint8Array,
  threadCounts: readonly number[],
  count: number,
): Promise<{ threads: number; imagesPerSec: number | null; note?: string }[]> {
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
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
    };
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
  const results: { threads: number; imagesPerSec: number | null; note?: string }[] = [];
  try {
    for (const threads of threadCounts) {
      const page = await browser.newPage();
      try {
        await page.goto(`http://127.0.0.1:${port}/?threads=${threads}&images=${count}`);
        await page.waitForFunction(() => window.__benchResult !== undefined, undefined, { timeout: 600_000 });
        const r = await page.evaluate(() => window.__benchResult!);
        if ('error' in r) results.push({ threads, imagesPerSec: null, note: r.error.split('\n')[0] });
        else {
          results.push({
            threads: r.threads,
            imagesPerSec: r.imagesPerSec,
            note: !r.isolated
              ? 'page not cross-origin isolated: no threads'
              : r.multithread
                ? undefined
                : 'wasm backend reports no multithread support',
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
