// End-to-end: build examples/browser with Vite, serve it on 127.0.0.1, drive it in Debian's Chromium, and check
// that the predictions it shows are the ones this library computes in Node, then save a screenshot for the docs.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import pngjs from 'pngjs';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateCnn } from '../../src/cnn/evaluate.js';
import { loadPretrained } from '../../src/cnn/pretrained-node.js';
import { CLASS_NAMES } from '../../src/data/catalog.js';
import { toFashionMnistImage } from '../../src/data/image.js';
import { loadSample } from '../../src/data/node.js';
import type { Split } from '../../src/data/split.js';
import { KnnClassifier } from '../../src/knn/classifier.js';
import { useBackend } from '../helpers/backends.js';
import { HAS_CHROMIUM, launchChromium } from '../helpers/chromium.js';

const SHOWN = 24;
const SCREENSHOT = resolve('docs/images/browser-demo.png');
const HAS_MODEL = existsSync(resolve('models/fashion-cnn/model.json'));
const HAS_VGG = existsSync(resolve('models/fashion-vgg-bn/model.json'));
const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

/** A sample test image as a 280×280 dark-on-white PNG, like a product photo. */
function photoOf(test: Split, i: number): { png: Buffer; rgba: Uint8Array } {
  const px = test.images.subarray(i * 784, (i + 1) * 784);
  const png = new pngjs.PNG({ width: 280, height: 280 });
  for (let y = 0; y < 280; y++)
    for (let x = 0; x < 280; x++) {
      const v = 255 - px[Math.floor(y / 10) * 28 + Math.floor(x / 10)];
      png.data.set([v, v, v, 255], (y * 280 + x) * 4);
    }
  return { png: pngjs.PNG.sync.write(png), rgba: new Uint8Array(png.data) };
}

describe.skipIf(!HAS_CHROMIUM)('browser demo (examples/browser) in headless Chromium', () => {
  let out: string;
  let server: Server;
  let url: string;
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  let test: Split;
  let expected: Int32Array;
  let knn: KnnClassifier;

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'fmnist-browser-'));
    await build({
      configFile: resolve('examples/browser/vite.config.ts'),
      build: { outDir: out, emptyOutDir: true },
      logLevel: 'error',
    });
    server = createServer((req, res) => {
      const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(
        /^(\.\.[/\\])+/,
        '',
      );
      const file = join(out, path.endsWith('/') ? `${path}index.html` : path);
      if (!file.startsWith(out) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': MIME[extname(file)] ?? 'application/octet-stream' });
      res.end(readFileSync(file));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

    // What the page must show: this library's k-NN on the same sample, computed here in Node.
    await useBackend('wasm');
    const data = await loadSample();
    test = data.test;
    knn = new KnnClassifier({ k: 5 }).fit(data.train.images, data.train.labels);
    expected = await knn.predict(test.images);

    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1100, height: 1400 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector('body[data-ready="true"], #status[data-state="error"]', { timeout: 60_000 });
  }, 150_000);

  afterAll(async () => {
    knn?.dispose();
    await browser?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('loads the sample by URL and shows k-NN predictions identical to the library in Node', async () => {
    expect(await page.locator('#status').getAttribute('data-state')).toBe('ready');
    const cells = await page.$$eval('[data-testid="grid"] .cell', (els) =>
      els.map((el) => {
        const knnLine = el.querySelector('[data-model="k-NN"]') as HTMLElement;
        return {
          label: Number((el as HTMLElement).dataset.label),
          pred: Number(knnLine.dataset.pred),
          cls: knnLine.className,
          text: knnLine.textContent,
        };
      }),
    );
    expect(cells).toHaveLength(SHOWN);
    for (const [i, c] of cells.entries()) {
      expect(c.label).toBe(test.labels[i]);
      expect(c.pred).toBe(expected[i]);
      expect(c.cls).toBe(expected[i] === test.labels[i] ? 'ok' : 'bad');
      expect(c.text).toContain(CLASS_NAMES[expected[i]]);
    }
    let correct = 0;
    for (let i = 0; i < test.count; i++) if (expected[i] === test.labels[i]) correct++;
    expect(await page.textContent('[data-testid="knn-accuracy"]')).toBe(
      `${((correct / test.count) * 100).toFixed(1)} %`,
    );
    expect(['webgl', 'wasm', 'cpu']).toContain(await page.getAttribute('body', 'data-backend'));
  });

  it('runs the pretrained CNN when the package has it, and says so when not', async () => {
    // The picker offers both shipped models and starts on fashion-cnn.
    expect(
      await page.$$eval('[data-testid="model"] option', (os) =>
        os.map((o) => (o as HTMLOptionElement).value),
      ),
    ).toEqual(['fashion-cnn', 'fashion-vgg-bn']);
    expect(await page.inputValue('[data-testid="model"]')).toBe('fashion-cnn');
    expect(await page.getAttribute('body', 'data-model')).toBe('fashion-cnn');
    if (HAS_MODEL) {
      const acc = await page.textContent('[data-testid="cnn-accuracy"]');
      expect(Number.parseFloat(acc ?? '0')).toBeGreaterThan(85);
      expect(await page.locator('[data-model="CNN"]').count()).toBe(SHOWN);
    } else {
      expect(await page.textContent('[data-testid="cnn-missing"]')).toContain(
        'pretrained model is not available',
      );
    }
  });

  it('classifies a dropped photo-like image the way the library does in Node', async () => {
    // Two test images that k-NN gets right after the data-set-style conversion, computed here.
    const picks: { i: number; png: Buffer; pred: number }[] = [];
    for (let i = 0; i < test.count && picks.length < 2; i++) {
      const { png, rgba } = photoOf(test, i);
      const [pred] = await knn.predict(toFashionMnistImage({ data: rgba, width: 280, height: 280 }).pixels);
      if (pred === test.labels[i]) picks.push({ i, png, pred });
    }
    expect(picks).toHaveLength(2);
    const dir = mkdtempSync(join(tmpdir(), 'fmnist-drop-'));
    try {
      for (const [n, pick] of picks.entries()) {
        const file = join(dir, `garment-${pick.i}.png`);
        writeFileSync(file, pick.png);
        await page.setInputFiles('[data-testid="file"]', file);
        await page.waitForSelector(`[data-testid="result"][data-count="${n + 1}"]`, { timeout: 20_000 });
        const top = await page.getAttribute('[data-testid="result"] [data-model="k-NN"]', 'data-top');
        expect(Number(top)).toBe(pick.pred);
        expect(await page.getAttribute('[data-testid="result"]', 'data-inverted')).toBe('true');
        expect(await page.locator('[data-testid="result"] [data-model="k-NN"] li').count()).toBe(3);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('classifies a drawing, shows no console errors, and saves a screenshot for the docs', async () => {
    await page.click('#clear');
    const count = async () => Number((await page.getAttribute('[data-testid="result"]', 'data-count')) ?? 0);
    const before = await count();
    const box = await page.locator('[data-testid="pad"]').boundingBox();
    if (!box) throw new Error('no drawing pad');
    // Two legs of a pair of trousers.
    for (const x of [0.38, 0.62]) {
      await page.mouse.move(box.x + box.width * x, box.y + box.height * 0.15);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width * x, box.y + box.height * 0.85, { steps: 12 });
      await page.mouse.up();
    }
    // Each finished stroke classifies the pad, and so does the button: three results.
    await page.click('#classify');
    await page.waitForFunction(
      (n) => Number(document.querySelector<HTMLElement>('[data-testid="result"]')?.dataset.count ?? 0) >= n,
      before + 3,
      { timeout: 20_000 },
    );
    expect(await page.locator('[data-testid="result"] [data-model="k-NN"] li').count()).toBe(3);
    expect(errors, errors.join('\n')).toEqual([]);
    mkdirSync(resolve('docs/images'), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  });

  it('switches to the second pretrained model, fashion-vgg-bn, and classifies with it (or says it is missing)', async () => {
    await page.selectOption('[data-testid="model"]', 'fashion-vgg-bn');
    await page.waitForSelector(
      'body[data-model="fashion-vgg-bn"]:is([data-cnn="ready"], [data-cnn="missing"])',
      {
        timeout: 60_000,
      },
    );
    if (!HAS_VGG) {
      expect(await page.textContent('[data-testid="cnn-missing"]')).toContain(
        'fashion-vgg-bn is not available',
      );
      return;
    }
    expect(await page.getAttribute('body', 'data-cnn')).toBe('ready');
    // The page's accuracy on the sample's test images matches the library's in Node, to a near-tie or two.
    const model = await loadPretrained('fashion-vgg-bn');
    const inNode = (await evaluateCnn(model, test)).accuracy;
    model.dispose();
    const shown = Number.parseFloat((await page.textContent('[data-testid="cnn-accuracy"]')) ?? '0');
    expect(shown).toBeGreaterThan(85);
    expect(Math.abs(shown - inNode * 100)).toBeLessThanOrEqual(0.3);
    expect(await page.locator('[data-testid="grid"] [data-model="CNN"]').count()).toBe(SHOWN);
    // A dropped picture is classified with the model now picked.
    const count = Number((await page.getAttribute('[data-testid="result"]', 'data-count')) ?? 0);
    const dir = mkdtempSync(join(tmpdir(), 'fmnist-vgg-'));
    try {
      const file = join(dir, 'garment.png');
      writeFileSync(file, photoOf(test, 0).png);
      await page.setInputFiles('[data-testid="file"]', file);
      await page.waitForSelector(`[data-testid="result"][data-count="${count + 1}"]`, { timeout: 20_000 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await page.getAttribute('[data-testid="result"]', 'data-cnn')).toBe('fashion-vgg-bn');
    expect(await page.locator('[data-testid="result"] [data-model="CNN"] li').count()).toBe(3);
    expect(errors, errors.join('\n')).toEqual([]);
  }, 90_000);
});
