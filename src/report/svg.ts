// Pictures of a classifier's results as standalone SVG text (universal: no Node built-ins, no tfjs): the grid of
// test images with the predicted class and its probability under each, correct in blue and wrong in red, as users
// of the reference know it, and the confusion matrix. Images are embedded as tiny uncompressed PNG data URIs,
// which keeps the file a few kB per image where one SVG rect per pixel would be ~50 kB.
import { CLASS_NAMES } from '../data/catalog.js';
import type { Split } from '../data/split.js';
import { FashionMnistError } from '../errors.js';
import { badOption, checkNumber, mergeOptions, show } from '../internal/validate.js';
import { CORRECT_COLOR, WRONG_COLOR } from './colors.js';
import { grayPngDataUri } from './png-encode.js';

export { CORRECT_COLOR, WRONG_COLOR } from './colors.js';

function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => `&${{ '<': 'lt', '>': 'gt', '&': 'amp', '"': 'quot', "'": 'apos' }[c]};`,
  );
}

/** The opening of every picture: the root element, a white background and the optional centred title. */
function svgOpen(
  width: number,
  height: number,
  title: string | undefined,
  titleY: number,
  attributes = '',
): string[] {
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif"${attributes}>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
  ];
  if (title) {
    parts.push(
      `<text x="${width / 2}" y="${titleY}" font-size="15" text-anchor="middle" fill="#222">${escapeXml(title)}</text>`,
    );
  }
  return parts;
}

/**
 * Options of {@link predictionGridSvg}.
 *
 * @example
 * ```ts
 * const options: PredictionGridOptions = { indices: [0, 5, 7], columns: 3 };
 * ```
 */
export interface PredictionGridOptions {
  /** Which images to show, by index into the split (default: the first `count`). */
  indices?: readonly number[];
  /** How many images when `indices` is not given (default `24`). */
  count?: number;
  /** Images per row (default `6`). */
  columns?: number;
  /** Size of one image in SVG pixels (default `84`, three times 28). */
  imageSize?: number;
  /** Class names (default Fashion-MNIST's). */
  classNames?: readonly string[];
  /** Title above the grid; empty for none (default: accuracy of the shown images). */
  title?: string;
}

const GRID_DEFAULTS: Readonly<PredictionGridOptions> = Object.freeze({
  indices: undefined,
  count: 24,
  columns: 6,
  imageSize: 84,
  classNames: CLASS_NAMES,
  title: undefined,
});

/**
 * Predictions to draw: what `evaluateCnn` (`fashion-mnist-tfjs/cnn`) returns fits (`predictions` and `probabilities`).
 *
 * @example
 * ```ts
 * const drawn: PredictionsToDraw = await evaluateCnn(model, data.test);
 * ```
 */
export interface PredictionsToDraw {
  /** Predicted class of each image of the split. */
  predictions: ArrayLike<number>;
  /** Row-major `count × classes` probabilities. */
  probabilities: ArrayLike<number>;
}

/**
 * A grid of images with the predicted class and its probability under each: blue when the prediction is right,
 * red when it is wrong (then with the true class too). Returns standalone SVG text; write it to a `.svg` file or
 * put it inline in HTML.
 *
 * @throws FashionMnistError `BAD_OPTION` for bad options or indices, `BAD_INPUT` when the predictions do not
 * match the split.
 * @example
 * ```ts
 * const ev = await evaluateCnn(model, data.test);
 * const svg = predictionGridSvg(data.test, ev, { count: 24, columns: 6 });
 * await writeFile('out/predictions.svg', svg);
 * ```
 */
export function predictionGridSvg(
  split: Split,
  result: PredictionsToDraw,
  options?: PredictionGridOptions,
): string {
  const where = 'predictionGridSvg';
  const o = mergeOptions(where, GRID_DEFAULTS, options);
  const columns = checkNumber(where, 'columns', o.columns, { integer: true, min: 1 });
  const size = checkNumber(where, 'imageSize', o.imageSize, { integer: true, min: 8 });
  const names = o.classNames ?? CLASS_NAMES;
  const n = result.predictions.length;
  if (n === 0 || n > split.count || result.probabilities.length % n !== 0) {
    throw new FashionMnistError(
      'BAD_INPUT',
      `${where}: ${n} predictions with ${result.probabilities.length} probabilities do not fit a split of ${split.count} images`,
    );
  }
  const classes = result.probabilities.length / n;
  let indices: number[];
  if (o.indices !== undefined) {
    if (!Array.isArray(o.indices) || o.indices.length === 0) {
      throw badOption(
        `${where}: option 'indices' must be a non-empty array of image indices, received ${show(o.indices)}`,
      );
    }
    indices = o.indices.map((i, k) =>
      checkNumber(where, `indices[${k}]`, i, { integer: true, min: 0, max: n - 1 }),
    );
  } else {
    const count = checkNumber(where, 'count', o.count, { integer: true, min: 1 });
    indices = Array.from({ length: Math.min(count, n) }, (_, i) => i);
  }
  const px = split.height * split.width;
  const cellW = Math.max(size, 96);
  const cellH = size + 34;
  const rows = Math.ceil(indices.length / columns);
  const hits = indices.filter((i) => result.predictions[i] === split.labels[i]).length;
  const title =
    o.title ?? `${hits} of ${indices.length} correct (${((100 * hits) / indices.length).toFixed(1)} %)`;
  const top = title ? 28 : 4;
  const width = columns * cellW + 8;
  const height = top + rows * cellH + 4;
  const parts = svgOpen(width, height, title, 19);
  indices.forEach((i, k) => {
    const x = 4 + (k % columns) * cellW;
    const y = top + Math.floor(k / columns) * cellH;
    const truth = split.labels[i];
    const predicted = result.predictions[i];
    const p = result.probabilities[i * classes + predicted];
    const ok = predicted === truth;
    const color = ok ? CORRECT_COLOR : WRONG_COLOR;
    const uri = grayPngDataUri(where, split.images.subarray(i * px, (i + 1) * px), split.width, split.height);
    const ix = x + (cellW - size) / 2;
    parts.push(
      `<g><title>image ${i}: ${escapeXml(names[truth] ?? String(truth))}, predicted ${escapeXml(names[predicted] ?? String(predicted))} (${(100 * p).toFixed(1)} %)</title>`,
      `<image x="${ix}" y="${y}" width="${size}" height="${size}" image-rendering="pixelated" style="image-rendering:pixelated" href="${uri}"/>`,
      `<rect x="${ix - 1}" y="${y - 1}" width="${size + 2}" height="${size + 2}" fill="none" stroke="${color}" stroke-width="${ok ? 1 : 2}"/>`,
      `<text x="${x + cellW / 2}" y="${y + size + 14}" font-size="12" text-anchor="middle" fill="${color}">${escapeXml(names[predicted] ?? String(predicted))} ${(100 * p).toFixed(0)} %</text>`,
      ok
        ? ''
        : `<text x="${x + cellW / 2}" y="${y + size + 28}" font-size="11" text-anchor="middle" fill="${color}">(${escapeXml(names[truth] ?? String(truth))})</text>`,
      '</g>',
    );
  });
  parts.push('</svg>');
  return parts.filter(Boolean).join('\n');
}

/**
 * Options of {@link confusionMatrixSvg}.
 *
 * @example
 * ```ts
 * const options: ConfusionMatrixSvgOptions = { title: 'pretrained CNN', cellSize: 40 };
 * ```
 */
export interface ConfusionMatrixSvgOptions {
  /** Class names (default Fashion-MNIST's). */
  classNames?: readonly string[];
  /** Title above the matrix; empty for none (default: the overall accuracy). */
  title?: string;
  /** Size of one cell in SVG pixels (default `46`). */
  cellSize?: number;
}

const MATRIX_DEFAULTS: Readonly<ConfusionMatrixSvgOptions> = Object.freeze({
  classNames: CLASS_NAMES,
  title: undefined,
  cellSize: 46,
});

/**
 * The confusion matrix as SVG: rows are the true classes, columns the predicted ones, each cell shows its count;
 * the diagonal (correct) is shaded blue and the rest red, darker for a larger share of the row.
 *
 * @example
 * ```ts
 * const ev = await evaluateCnn(model, data.test);
 * await writeFile('out/confusion.svg', confusionMatrixSvg(ev.confusion));
 * ```
 */
export function confusionMatrixSvg(
  matrix: readonly (readonly number[])[],
  options?: ConfusionMatrixSvgOptions,
): string {
  return renderConfusionSvg('confusionMatrixSvg', matrix, options, '');
}

/**
 * The one confusion-matrix renderer, shared by {@link confusionMatrixSvg} and the HTML report (which passes
 * its own root `attributes`, e.g. a test id). Each cell is a `<g class="cell">` with `data-truth`, `data-pred`
 * and `data-count`, and a tooltip.
 */
export function renderConfusionSvg(
  where: string,
  matrix: readonly (readonly number[])[],
  options: ConfusionMatrixSvgOptions | undefined,
  attributes: string,
): string {
  const o = mergeOptions(where, MATRIX_DEFAULTS, options);
  const cell = checkNumber(where, 'cellSize', o.cellSize, { integer: true, min: 16 });
  const k = Array.isArray(matrix) ? matrix.length : 0;
  if (k === 0 || matrix.some((row) => !Array.isArray(row) || row.length !== k)) {
    throw new FashionMnistError('BAD_INPUT', `${where}: the confusion matrix must be square and non-empty`);
  }
  const names = Array.from({ length: k }, (_, i) => (o.classNames ?? CLASS_NAMES)[i] ?? String(i));
  let total = 0;
  let right = 0;
  matrix.forEach((row, t) => {
    row.forEach((v, p) => {
      total += v;
      if (t === p) right += v;
    });
  });
  const title =
    o.title ?? `accuracy ${total ? ((100 * right) / total).toFixed(2) : '0.00'} % on ${total} images`;
  const left = 118;
  const top = (title ? 30 : 8) + 96;
  const width = left + k * cell + 12;
  const height = top + k * cell + 30;
  const parts = svgOpen(width, height, title, 20, ` role="img" aria-label="Confusion matrix"${attributes}`);
  parts.push(
    `<text x="${left + (k * cell) / 2}" y="${top + k * cell + 22}" font-size="12" text-anchor="middle" fill="#444">predicted class</text>`,
    `<text x="12" y="${top + (k * cell) / 2}" font-size="12" text-anchor="middle" fill="#444" transform="rotate(-90 12 ${top + (k * cell) / 2})">true class</text>`,
  );
  for (let i = 0; i < k; i++) {
    const cx = left + i * cell + cell / 2;
    parts.push(
      `<text x="${left - 6}" y="${top + i * cell + cell / 2 + 4}" font-size="11" text-anchor="end" fill="#222">${escapeXml(names[i])}</text>`,
      `<text x="${cx}" y="${top - 6}" font-size="11" text-anchor="start" fill="#222" transform="rotate(-55 ${cx} ${top - 6})">${escapeXml(names[i])}</text>`,
    );
  }
  matrix.forEach((row, t) => {
    const rowTotal = row.reduce((a, b) => a + b, 0);
    row.forEach((v, p) => {
      const share = rowTotal ? v / rowTotal : 0;
      // Shade by share of the row; a square root keeps the few-percent mistakes visible next to the diagonal.
      const alpha = v === 0 ? 0 : Math.min(1, 0.08 + 0.92 * Math.sqrt(share));
      const fill = t === p ? CORRECT_COLOR : WRONG_COLOR;
      const x = left + p * cell;
      const y = top + t * cell;
      const tip = `${names[t]} predicted as ${names[p]}: ${v} (${(100 * share).toFixed(1)} % of the row)`;
      parts.push(
        `<g class="cell" data-truth="${t}" data-pred="${p}" data-count="${v}"><title>${escapeXml(tip)}</title>`,
        `<rect x="${x}" y="${y}" width="${cell}" height="${cell}" fill="${fill}" fill-opacity="${alpha.toFixed(3)}" stroke="#dddddd"/>`,
      );
      if (v > 0) {
        parts.push(
          `<text x="${x + cell / 2}" y="${y + cell / 2 + 4}" font-size="11" text-anchor="middle" fill="${alpha > 0.55 ? '#ffffff' : '#222222'}">${v}</text>`,
        );
      }
      parts.push('</g>');
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}
