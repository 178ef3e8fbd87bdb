import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLASS_NAMES } from '../../src/data/catalog.js';
import { loadSample } from '../../src/data/node.js';
import { FashionMnistError } from '../../src/errors.js';
import { perClassMetrics } from '../../src/metrics/metrics.js';
import { CORRECT_COLOR, WRONG_COLOR } from '../../src/report/colors.js';
import { type HtmlReportData, renderHtmlReport } from '../../src/report/html.js';
import { bytesToBase64, encodePngWith, grayPngDataUri } from '../../src/report/png-encode.js';
import { confusionMatrixSvg } from '../../src/report/svg.js';

const encodeGrayPng = (pixels: Uint8Array, width: number, height: number) =>
  encodePngWith('test', { data: pixels, width, height, channels: 1 });

import { HAS_CHROMIUM, launchChromium } from '../helpers/chromium.js';

// The browser reports computed colours as rgb(); the report and the SVGs share one palette.
const rgb = (hex: string) =>
  `rgb(${[1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;

function decode(png: Uint8Array) {
  return pngjs.PNG.sync.read(Buffer.from(png));
}

describe('the universal PNG encoder (uncompressed blocks)', () => {
  it('writes a PNG that an independent decoder reads back pixel for pixel', () => {
    const pixels = Uint8Array.from({ length: 28 * 28 }, (_, i) => (i * 37) % 256);
    const img = decode(encodeGrayPng(pixels, 28, 28));
    expect([img.width, img.height]).toEqual([28, 28]);
    for (let i = 0; i < pixels.length; i++) expect(img.data[i * 4]).toBe(pixels[i]);
  });

  it('handles images larger than one stored deflate block (65,535 bytes)', () => {
    const w = 300;
    const h = 250; // 75,250 raw bytes with filter bytes: two blocks
    const pixels = Uint8Array.from({ length: w * h }, (_, i) => (i * 7 + (i >> 9)) % 256);
    const img = decode(encodeGrayPng(pixels, w, h));
    let same = 0;
    for (let i = 0; i < pixels.length; i++) if (img.data[i * 4] === pixels[i]) same++;
    expect(same).toBe(pixels.length);
  });

  it('rejects a size that does not match the pixels', () => {
    expect(() => encodeGrayPng(new Uint8Array(10), 3, 3)).toThrow(
      expect.objectContaining({ code: 'BAD_SHAPE' }),
    );
    expect(() => encodeGrayPng(new Uint8Array(0), 0, 0)).toThrow(
      expect.objectContaining({ code: 'BAD_OPTION' }),
    );
  });

  it.each([3, 4] as const)('writes %s-channel rasters that pngjs reads back', (channels) => {
    const data = Uint8Array.from({ length: 5 * 4 * channels }, (_, i) => (i * 53) % 256);
    const img = decode(encodePngWith('test', { data, width: 5, height: 4, channels }));
    for (let p = 0; p < 20; p++)
      for (let c = 0; c < channels; c++) expect(img.data[p * 4 + c]).toBe(data[p * channels + c]);
  });

  it('grayPngDataUri is a PNG data URI', () => {
    expect(grayPngDataUri('test', new Uint8Array(4), 2, 2)).toMatch(/^data:image\/png;base64,iVBORw0KGgo/);
  });

  it('bytesToBase64 agrees with Buffer', () => {
    const bytes = Uint8Array.from({ length: 100_000 }, (_, i) => (i * 31) % 256);
    expect(bytesToBase64(bytes)).toBe(Buffer.from(bytes).toString('base64'));
  });
});

/** A report from real sample images with made-up predictions: every tenth one wrong. */
async function reportData(): Promise<HtmlReportData> {
  const { test } = await loadSample();
  const n = 40;
  const predictions = Array.from({ length: n }, (_, i) =>
    i % 10 === 3 ? (test.labels[i] + 1) % 10 : test.labels[i],
  );
  const confusion = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
  for (let i = 0; i < n; i++) confusion[test.labels[i]][predictions[i]]++;
  return {
    title: 'Test <report> & "quotes"',
    sample: true,
    accuracy: 36 / 40,
    references: [{ label: 'reference', accuracy: 0.9232 }],
    confusion,
    details: { backend: 'wasm', epochs: 3 },
    history: [
      { epoch: 0, loss: 0.9, acc: 0.7, valLoss: 0.7, valAcc: 0.75 },
      { epoch: 1, loss: 0.6, acc: 0.8, valLoss: 0.55, valAcc: 0.8 },
      { epoch: 2, loss: 0.45, acc: 0.84, valLoss: 0.5, valAcc: 0.83 },
    ],
    examples: {
      images: test.images.subarray(0, n * 784),
      height: 28,
      width: 28,
      labels: test.labels,
      predictions,
      confidences: predictions.map((_, i) => 0.5 + i / 100),
    },
  };
}

describe('renderHtmlReport', () => {
  it('is one self-contained page: no external resources, escaped text', async () => {
    const html = renderHtmlReport(await reportData());
    expect(html).not.toMatch(/<script|<link|src="http|href="http|@import/);
    expect(html).toContain('<title>Test &#60;report&#62; &#38; &#34;quotes&#34;</title>');
    expect(html.match(/src="data:image\/png;base64,/g)).toHaveLength(40);
    expect(html).toContain('data-testid="sample-banner"');
  });

  it('leaves out the curves and the grid when not given', () => {
    const confusion = [
      [3, 1],
      [0, 4],
    ];
    const html = renderHtmlReport({ title: 'x', accuracy: 7 / 8, confusion, classNames: ['a', 'b'] });
    expect(html).not.toContain('loss-chart');
    expect(html).not.toContain('data-testid="grid"');
    expect(html).not.toContain('sample-banner');
    expect(html).toContain('7 of 8 test images');
  });

  it('takes its per-class figures from the metrics module and its confusion matrix from the one SVG renderer', async () => {
    const data = await reportData();
    const html = renderHtmlReport(data);
    for (const c of perClassMetrics(data.confusion)) {
      const row = html.match(new RegExp(`<tr data-class="${c.index}">(.*?)</tr>`))?.[1] ?? '';
      expect(row).toContain(`<td>${c.f1.toFixed(3)}</td><td>${c.support}</td>`);
      expect(row).toContain(`${(c.precision * 100).toFixed(1)} %`);
    }
    // The same cells as confusionMatrixSvg draws (the report only adds a test id and drops the title).
    const cells = (svg: string) => svg.match(/<g class="cell"[\s\S]*?<\/g>/g);
    const standalone = confusionMatrixSvg(data.confusion, { title: '' });
    expect(cells(html)).toEqual(cells(standalone));
    expect(cells(html)).toHaveLength(100);
  });

  it('rejects a non-square confusion matrix and an accuracy outside [0, 1]', () => {
    expect(() => renderHtmlReport({ title: 'x', accuracy: 0.5, confusion: [[1, 2]] })).toThrow(
      FashionMnistError,
    );
    expect(() => renderHtmlReport({ title: 'x', accuracy: 1.5, confusion: [[1]] })).toThrow(/accuracy/);
    expect(() => renderHtmlReport({ title: 'x', accuracy: Number.NaN, confusion: [[1]] })).toThrow(
      /accuracy/,
    );
  });

  it('refuses what is not report data or a matrix with BAD_INPUT, not a TypeError', () => {
    const badInput = expect.objectContaining({ code: 'BAD_INPUT' });
    expect(() => renderHtmlReport(null as unknown as HtmlReportData)).toThrow(badInput);
    expect(() => renderHtmlReport({ title: 'x', accuracy: 0.5 } as unknown as HtmlReportData)).toThrow(
      badInput,
    );
    expect(() => renderHtmlReport({ title: 'x', accuracy: 0.5, confusion: [null] } as never)).toThrow(
      badInput,
    );
    expect(() => perClassMetrics(null as never)).toThrow(badInput);
    expect(() => perClassMetrics([null] as never)).toThrow(badInput);
  });
});

describe.skipIf(!HAS_CHROMIUM)('the report in headless Chromium', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'fmnist-report-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('renders without console errors and shows accuracy, heat map, per-class table, curves and the image grid', async () => {
    const data = await reportData();
    const file = join(dir, 'report.html');
    writeFileSync(file, renderHtmlReport(data));
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
      const errors: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(e.message));
      const requests: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) requests.push(r.url());
      });
      await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
      const seen = await page.evaluate(() => {
        const q = (s: string) => document.querySelector(s);
        const imgs = Array.from(document.querySelectorAll<HTMLImageElement>('[data-testid="grid"] img'));
        const caption = (cls: string) =>
          getComputedStyle(document.querySelector(`figure.${cls} figcaption`) as Element).color;
        const box = (s: string) => (q(s) as Element).getBoundingClientRect();
        return {
          accuracy: q('[data-testid="accuracy"]')?.textContent,
          cells: document.querySelectorAll('[data-testid="confusion"] .cell').length,
          diagonal: Array.from(document.querySelectorAll('[data-testid="confusion"] .cell'))
            .filter((c) => c.getAttribute('data-truth') === c.getAttribute('data-pred'))
            .reduce((n, c) => n + Number(c.getAttribute('data-count')), 0),
          perClassRows: document.querySelectorAll('[data-testid="per-class"] tr[data-class]').length,
          lines: Array.from(document.querySelectorAll('polyline')).map((p) => p.getAttribute('data-series')),
          images: imgs.length,
          decoded: imgs.filter((i) => i.complete && i.naturalWidth === 28 && i.naturalHeight === 28).length,
          ok: document.querySelectorAll('figure.ok').length,
          bad: document.querySelectorAll('figure.bad').length,
          okColour: caption('ok'),
          badColour: caption('bad'),
          heatmapWidth: box('[data-testid="confusion"]').width,
          chartWidth: box('[data-testid="loss-chart"]').width,
          banner: q('[data-testid="sample-banner"]')?.textContent ?? '',
          firstCaption: q('figure figcaption')?.textContent,
        };
      });
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
      expect(seen.accuracy).toBe('90.00 %');
      expect(seen.cells).toBe(100);
      expect(seen.diagonal).toBe(36);
      expect(seen.perClassRows).toBe(10);
      expect(seen.lines).toEqual(['train loss', 'validation loss', 'train accuracy', 'validation accuracy']);
      expect(seen.images).toBe(40);
      expect(seen.decoded).toBe(40);
      expect([seen.ok, seen.bad]).toEqual([36, 4]);
      expect(seen.okColour).toBe(rgb(CORRECT_COLOR));
      expect(seen.badColour).toBe(rgb(WRONG_COLOR));
      expect(seen.heatmapWidth).toBeGreaterThan(300);
      expect(seen.chartWidth).toBeGreaterThan(300);
      expect(seen.banner).toContain('SAMPLE');
      // The first image is predicted right (index 0 is not one of the wrong ones), at 50 %.
      expect(seen.firstCaption).toBe(`${CLASS_NAMES[data.examples?.labels[0] ?? -1]}50.0 %`);
      await page.screenshot({
        path: process.env.REPORT_SCREENSHOT ?? join(dir, 'report.png'),
        fullPage: true,
      });
    } finally {
      await browser.close();
    }
  });
});
