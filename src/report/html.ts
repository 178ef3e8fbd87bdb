// One self-contained HTML page per run (k-NN, training, evaluation): inline CSS, SVG charts and PNG data URIs,
// so the file can be mailed, attached to CI artefacts or opened offline with nothing else beside it.
// Universal: builds a string and never touches the file system (the CLI writes it).

import { CLASS_NAMES } from '../data/catalog.js';
import { FashionMnistError } from '../errors.js';
import { show } from '../internal/validate.js';
import { perClassMetrics } from '../metrics/metrics.js';
import { CORRECT_COLOR, WRONG_COLOR } from './colors.js';
import { grayPngDataUri } from './png-encode.js';
import { renderConfusionSvg } from './svg.js';

/**
 * One epoch of a training curve; the shape of `trainCnn`'s `EpochLog`, of which only these fields are read.
 *
 * @example
 * ```ts
 * const epoch: ReportEpoch = { epoch: 0, loss: 0.61, acc: 0.78, valLoss: 0.45, valAcc: 0.84 };
 * ```
 */
export interface ReportEpoch {
  /** 0-based epoch. */
  epoch: number;
  loss: number;
  acc: number;
  valLoss?: number;
  valAcc?: number;
}

/**
 * Test images to show in the report's grid, with what the classifier said about them.
 *
 * @example
 * ```ts
 * const examples: ReportExamples = {
 *   images: test.images.subarray(0, 40 * 784), height: 28, width: 28,
 *   labels: test.labels, predictions, confidences,
 * };
 * ```
 */
export interface ReportExamples {
  /** Grayscale 0..255 pixels, `count × height × width`, row-major (a `Split`'s `images`). */
  images: Uint8Array;
  height: number;
  width: number;
  /** True class of each shown image (at least as many as there are images). */
  labels: ArrayLike<number>;
  /** Predicted class of each shown image. */
  predictions: ArrayLike<number>;
  /** Probability (or vote share) of the predicted class, 0..1, printed under each image. */
  confidences: ArrayLike<number>;
  /** How many to show (default: every image in `images`, at most 100). */
  count?: number;
}

/**
 * Everything {@link renderHtmlReport} can show. Only `title`, `accuracy` and `confusion` are required; the
 * training curves and image grid appear when given.
 *
 * @example
 * ```ts
 * const data: HtmlReportData = {
 *   title: 'k-NN on Fashion-MNIST',
 *   accuracy: 0.8567,
 *   confusion: confusionMatrix(test.labels, predictions),
 *   details: { k: 5, backend: 'wasm' },
 * };
 * ```
 */
export interface HtmlReportData {
  /** Page title and main heading. */
  title: string;
  /** Marks the results as coming from the embedded sample (a banner: not comparable with published numbers). */
  sample?: boolean;
  /** Key facts of the run, shown as a table (data source, backend, options, wall time, …). */
  details?: Readonly<Record<string, string | number | boolean>>;
  /** Fraction correct, 0..1. */
  accuracy: number;
  /** Published or reference accuracies (0..1) to show next to ours. */
  references?: readonly { label: string; accuracy: number }[];
  /** `confusion[truth][predicted]` counts. */
  confusion: readonly (readonly number[])[];
  /** Class names, by index (default {@link CLASS_NAMES}). */
  classNames?: readonly string[];
  /** Per-epoch training history, for the curves. */
  history?: readonly ReportEpoch[];
  /** Test images with predictions, for the grid. */
  examples?: ReportExamples;
  /** When the report was made (default: now); shown in the footer. */
  generatedAt?: Date;
}

const BLUE = CORRECT_COLOR;
const RED = WRONG_COLOR;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function pct(x: number, digits = 2): string {
  return Number.isFinite(x) ? `${(x * 100).toFixed(digits)} %` : '–';
}

// --- Pieces of the page.

interface Series {
  name: string;
  colour: string;
  dashed?: boolean;
  values: (number | undefined)[];
}

function lineChartSvg(id: string, title: string, series: Series[], unitPercent: boolean): string {
  const w = 440;
  const h = 260;
  const m = { left: 52, right: 14, top: 46, bottom: 40 };
  const n = Math.max(...series.map((s) => s.values.length));
  const all = series.flatMap((s) =>
    s.values.filter((v): v is number => v !== undefined && Number.isFinite(v)),
  );
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (!Number.isFinite(lo)) {
    lo = 0;
    hi = 1;
  }
  if (hi - lo < 1e-9) {
    lo -= 0.5;
    hi += 0.5;
  }
  const pad = (hi - lo) * 0.08;
  lo -= pad;
  hi += pad;
  const xOf = (i: number) => m.left + (n <= 1 ? 0.5 : i / (n - 1)) * (w - m.left - m.right);
  const yOf = (v: number) => m.top + (1 - (v - lo) / (hi - lo)) * (h - m.top - m.bottom);
  const fmt = (v: number) => (unitPercent ? `${(v * 100).toFixed(1)}%` : v.toFixed(3));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-testid="${id}" viewBox="0 0 ${w} ${h}" width="${w}" role="img" aria-label="${escapeHtml(title)}">`,
    `<text x="${w / 2}" y="18" text-anchor="middle" class="title">${escapeHtml(title)}</text>`,
  ];
  for (let g = 0; g <= 4; g++) {
    const v = lo + ((hi - lo) * g) / 4;
    const y = yOf(v);
    parts.push(
      `<line x1="${m.left}" x2="${w - m.right}" y1="${y}" y2="${y}" class="grid"/>`,
      `<text x="${m.left - 4}" y="${y + 4}" text-anchor="end" class="axis">${fmt(v)}</text>`,
    );
  }
  const step = Math.max(1, Math.ceil(n / 10));
  for (let i = 0; i < n; i += step) {
    parts.push(
      `<text x="${xOf(i)}" y="${h - m.bottom + 16}" text-anchor="middle" class="axis">${i + 1}</text>`,
    );
  }
  parts.push(
    `<text x="${(m.left + w - m.right) / 2}" y="${h - 6}" text-anchor="middle" class="label">epoch</text>`,
  );
  series.forEach((s, si) => {
    const pts = s.values
      .map((v, i) =>
        v === undefined || !Number.isFinite(v) ? null : `${xOf(i).toFixed(1)},${yOf(v).toFixed(1)}`,
      )
      .filter((p): p is string => p !== null);
    if (pts.length === 0) return;
    parts.push(
      `<polyline data-series="${escapeHtml(s.name)}" points="${pts.join(' ')}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
    );
    for (const p of pts) {
      const [x, y] = p.split(',');
      parts.push(`<circle cx="${x}" cy="${y}" r="2.5" fill="${s.colour}"/>`);
    }
    // Legend in one row under the title, outside the plot, so it never hides a curve.
    const lx = m.left + si * 170;
    parts.push(
      `<line x1="${lx}" x2="${lx + 20}" y1="32" y2="32" stroke="${s.colour}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5 4"' : ''}/>`,
      `<text x="${lx + 24}" y="36" class="axis">${escapeHtml(s.name)}</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}

function perClassRows(confusion: readonly (readonly number[])[], names: readonly string[]): string {
  const bar = (v: number) =>
    `<span class="bar"><span style="width:${(v * 100).toFixed(1)}%"></span></span> ${pct(v, 1)}`;
  return perClassMetrics(confusion, names)
    .map(
      (c) =>
        `<tr data-class="${c.index}"><td>${c.index}</td><td>${escapeHtml(c.name)}</td><td>${bar(c.precision)}</td><td>${bar(c.recall)}</td><td>${c.f1.toFixed(3)}</td><td>${c.support}</td></tr>`,
    )
    .join('');
}

function gridHtml(ex: ReportExamples, names: readonly string[]): string {
  const px = ex.height * ex.width;
  const available = Math.floor(ex.images.length / px);
  const count = Math.min(ex.count ?? available, available, 100);
  const cells: string[] = [];
  let wrong = 0;
  for (let i = 0; i < count; i++) {
    const uri = grayPngDataUri(
      'renderHtmlReport',
      ex.images.subarray(i * px, (i + 1) * px),
      ex.width,
      ex.height,
    );
    const truth = ex.labels[i];
    const pred = ex.predictions[i];
    const ok = truth === pred;
    if (!ok) wrong++;
    const name = names[pred] ?? String(pred);
    const alt = ok
      ? `${names[truth] ?? truth}, predicted correctly`
      : `${names[truth] ?? truth}, predicted as ${name}`;
    cells.push(
      `<figure class="${ok ? 'ok' : 'bad'}" data-truth="${truth}" data-pred="${pred}">` +
        `<img src="${uri}" width="${ex.width * 2}" height="${ex.height * 2}" alt="${escapeHtml(alt)}">` +
        `<figcaption><b>${escapeHtml(name)}</b><br>${pct(ex.confidences[i], 1)}${ok ? '' : `<br><small>true: ${escapeHtml(names[truth] ?? String(truth))}</small>`}</figcaption></figure>`,
    );
  }
  return `<p>The first ${count} test images: predicted class and its probability under each; <span style="color:${BLUE}">blue</span> correct, <span style="color:${RED}">red</span> wrong (${wrong} of ${count}).</p><div class="grid" data-testid="grid">${cells.join('')}</div>`;
}

const CSS = `
:root{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;background:#fafafa}
body{max-width:1100px;margin:0 auto;padding:24px}
h1{margin:0 0 4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}
.banner{background:#fff3cd;border:1px solid #e0c060;padding:10px 14px;border-radius:6px;margin:12px 0}
.big{font-size:48px;font-weight:700;margin:8px 0}
table{border-collapse:collapse;background:#fff}td,th{padding:4px 10px;border-bottom:1px solid #eee;text-align:left}
.bar{display:inline-block;width:90px;height:9px;background:#eee;vertical-align:middle;border-radius:2px}
.bar span{display:block;height:100%;background:${BLUE};border-radius:2px}
svg.chart text{font-size:11px;fill:#333}svg.chart .title{font-size:13px;font-weight:600}svg.chart .label{font-size:12px;fill:#555}
svg.chart .grid{stroke:#e4e4e4}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(86px,1fr));gap:8px}
figure{margin:0;text-align:center;background:#fff;padding:6px 2px;border-radius:4px;border:2px solid transparent}
figure img{image-rendering:pixelated;background:#000}
figcaption{font-size:11px;line-height:1.3}
figure.ok figcaption{color:${BLUE}}figure.bad figcaption{color:${RED}}figure.bad{border-color:#f3c4c4}
footer{margin-top:40px;color:#777;font-size:12px}
`;

/**
 * Renders a run's results as one self-contained HTML page (no external files, scripts or fonts): the
 * accuracy (next to reference numbers when given), the confusion matrix as a heat map, per-class
 * precision/recall, training curves (train and validation loss and accuracy per epoch) and a grid of test
 * images with predicted labels — blue when right, red when wrong, the probability under each.
 *
 * @throws FashionMnistError `BAD_INPUT` when the confusion matrix is not square or the accuracy is not in [0, 1].
 * @example
 * ```ts
 * import { writeFile } from 'node:fs/promises';
 * import { confusionMatrix } from 'fashion-mnist-tfjs/metrics';
 * import { renderHtmlReport } from 'fashion-mnist-tfjs/report';
 *
 * const html = renderHtmlReport({
 *   title: 'CNN on Fashion-MNIST',
 *   accuracy: ev.accuracy,
 *   confusion: ev.confusion,
 *   history: history.epochs,
 *   examples: { images: test.images, height: 28, width: 28, labels: test.labels,
 *               predictions: ev.predictions, confidences, count: 40 },
 * });
 * await writeFile('report.html', html);
 * ```
 */
export function renderHtmlReport(data: HtmlReportData): string {
  if (typeof data !== 'object' || data === null) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `renderHtmlReport: expected the report data ({ title, accuracy, confusion, … }), received ${show(data)}`,
    );
  }
  const names = data.classNames ?? CLASS_NAMES;
  const k = Array.isArray(data.confusion) ? data.confusion.length : 0;
  if (k === 0 || data.confusion.some((row) => !Array.isArray(row) || row.length !== k)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `renderHtmlReport: the confusion matrix must be square and non-empty`,
    );
  }
  if (!(data.accuracy >= 0 && data.accuracy <= 1)) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `renderHtmlReport: accuracy must be in [0, 1], received ${data.accuracy}`,
    );
  }
  const total = data.confusion.reduce((n, row) => n + row.reduce((a, b) => a + b, 0), 0);
  const correct = data.confusion.reduce((n, row, i) => n + row[i], 0);
  const sections: string[] = [];
  sections.push(`<h1>${escapeHtml(data.title)}</h1>`);
  if (data.sample) {
    sections.push(
      '<div class="banner" data-testid="sample-banner"><b>SAMPLE</b>: these results come from the small embedded sample of Fashion-MNIST, not the full data set, and are not comparable with published figures.</div>',
    );
  }
  const refs = (data.references ?? [])
    .map((r) => `<tr><td>${escapeHtml(r.label)}</td><td>${pct(r.accuracy)}</td></tr>`)
    .join('');
  sections.push(
    '<h2>Accuracy</h2>',
    `<div class="big" data-testid="accuracy">${pct(data.accuracy)}</div>`,
    `<p>${correct} of ${total} test images classified correctly.</p>`,
  );
  if (refs)
    sections.push(
      `<table data-testid="references"><tr><th>reference</th><th>accuracy</th></tr>${refs}</table>`,
    );
  if (data.details && Object.keys(data.details).length > 0) {
    const rows = Object.entries(data.details)
      .map(([key, v]) => `<tr><th>${escapeHtml(key)}</th><td>${escapeHtml(String(v))}</td></tr>`)
      .join('');
    sections.push(`<h2>Run</h2><table data-testid="details">${rows}</table>`);
  }
  if (data.history && data.history.length > 0) {
    const h = data.history;
    const hasVal = h.some((e) => e.valLoss !== undefined);
    const loss: Series[] = [{ name: 'train loss', colour: BLUE, values: h.map((e) => e.loss) }];
    const acc: Series[] = [{ name: 'train accuracy', colour: BLUE, values: h.map((e) => e.acc) }];
    if (hasVal) {
      loss.push({
        name: 'validation loss',
        colour: '#e07b00',
        dashed: true,
        values: h.map((e) => e.valLoss),
      });
      acc.push({
        name: 'validation accuracy',
        colour: '#e07b00',
        dashed: true,
        values: h.map((e) => e.valAcc),
      });
    }
    sections.push(
      '<h2>Training curves</h2>',
      `<div class="charts">${lineChartSvg('loss-chart', 'Loss per epoch', loss, false)}${lineChartSvg('acc-chart', 'Accuracy per epoch', acc, true)}</div>`,
    );
  }
  sections.push(
    '<h2>Confusion matrix</h2>',
    '<p>Rows are the true class, columns the prediction; the diagonal (right) is blue, mistakes red, darker for a larger share of the row.</p>',
    renderConfusionSvg(
      'renderHtmlReport',
      data.confusion,
      { classNames: names, title: '' },
      ' data-testid="confusion"',
    ),
    '<h2>Per class</h2>',
    `<table data-testid="per-class"><tr><th>#</th><th>class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>${perClassRows(data.confusion, names)}</table>`,
  );
  if (data.examples) sections.push('<h2>Test images</h2>', gridHtml(data.examples, names));
  const when = (data.generatedAt ?? new Date()).toISOString();
  sections.push(`<footer>Generated by fashion-mnist-tfjs on ${when}.</footer>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(data.title)}</title><style>${CSS}</style></head>
<body>
${sections.join('\n')}
</body></html>
`;
}
