// Pure, universal composition of image grids (no tfjs, no Node built-ins): the pictures in the docs
// (augmentation before/after, CNN predictions with a coloured frame for wrong answers) are all a
// grid of small images, upscaled, separated by padding, optionally framed.

import { FashionMnistError } from '../errors.js';
import { badOption, checkNumber, mergeOptions, show } from '../internal/validate.js';

/**
 * An RGB colour, each component 0..255.
 *
 * @example
 * ```ts
 * const red: Rgb = [220, 40, 40];
 * ```
 */
export type Rgb = readonly [number, number, number];

/**
 * One image to place in a grid: row-major values, grayscale (`channels: 1`, the default) or RGB
 * (`channels: 3`). Values are mapped from the grid's `valueRange` (default 0..255) to 0..255.
 *
 * @example
 * ```ts
 * const image: GridImage = { pixels: split.images.subarray(0, 784), height: 28, width: 28 };
 * ```
 */
export interface GridImage {
  readonly pixels: ArrayLike<number>;
  readonly height: number;
  readonly width: number;
  readonly channels?: 1 | 3;
}

/**
 * A grid cell with an optional frame colour (for instance green for a correct prediction, red for a
 * wrong one). A cell without `image` stays empty (background), which is handy to align rows.
 *
 * @example
 * ```ts
 * const cell: GridCell = { image, border: [0, 160, 0] };
 * ```
 */
export interface GridCell {
  readonly image?: GridImage | null;
  readonly border?: Rgb | null;
}

/**
 * Layout options of {@link composeImageGrid}.
 *
 * @example
 * ```ts
 * const options: ImageGridOptions = { columns: 8, scale: 3, padding: 4, borderWidth: 2, groupRows: 2 };
 * ```
 */
export interface ImageGridOptions {
  /** Cells per row. Default: as many as there are cells (one row). */
  columns?: number;
  /** Integer upscaling factor, nearest neighbour. Default 1. */
  scale?: number;
  /** Background pixels between cells and around the grid. Default 2. */
  padding?: number;
  /** Width of the frame drawn around every cell, in its `border` colour or the background. Default 0. */
  borderWidth?: number;
  /**
   * Rows per group: after every `groupRows` rows, `groupGap` extra background pixels separate the
   * groups (before/after bands, one band per model…). Default 0: no groups.
   */
  groupRows?: number;
  /** Extra pixels between row groups. Default 12. */
  groupGap?: number;
  /** Background colour. Default white. */
  background?: Rgb;
  /** Input values mapped to 0 and 255 (clamped outside). Default [0, 255]; use [0, 1] for normalised images. */
  valueRange?: readonly [number, number];
}

/**
 * A raster image: row-major 8-bit samples with 1 (gray), 3 (RGB) or 4 (RGBA) channels.
 *
 * @example
 * ```ts
 * const raster: RasterImage = { data: new Uint8Array(2 * 2 * 3), width: 2, height: 2, channels: 3 };
 * ```
 */
export interface RasterImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3 | 4;
}

const GRID_DEFAULTS: Readonly<ImageGridOptions> = Object.freeze({
  columns: undefined,
  scale: 1,
  padding: 2,
  borderWidth: 0,
  groupRows: 0,
  groupGap: 12,
  background: [255, 255, 255] as Rgb,
  valueRange: [0, 255] as readonly [number, number],
});

function nonNegativeInt(name: string, value: unknown, min: number): number {
  return checkNumber('composeImageGrid', name, value, { integer: true, min });
}

function checkRgb(name: string, value: unknown): Rgb {
  if (!Array.isArray(value)) {
    throw badOption(
      `composeImageGrid: ${name} must be [r, g, b] with integers 0..255, received ${show(value)}`,
    );
  }
  if (
    value.length !== 3 ||
    !value.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255)
  ) {
    throw badOption(
      `composeImageGrid: ${name} must be [r, g, b] with integers 0..255, received ${show(value)}`,
    );
  }
  return value as unknown as Rgb;
}

function isCell(x: GridImage | GridCell | null): x is GridCell {
  return x !== null && !('pixels' in x);
}

/**
 * Composes images into one RGB raster: cells in row-major order, `columns` per row, each image
 * upscaled by `scale`, centred in a slot as large as the largest image, framed by `borderWidth`
 * pixels of its cell's `border` colour, with `padding` background pixels between and around slots
 * (plus `groupGap` between groups of `groupRows` rows).
 * Grayscale and RGB images can be mixed. Pure; encode the result with `encodePng` (Node entry).
 *
 * @example
 * ```ts
 * const originals = [0, 1, 2, 3].map((i) => ({ pixels: images.subarray(i * 784, (i + 1) * 784), height: 28, width: 28 }));
 * const grid = composeImageGrid(originals, { columns: 4, scale: 3 });
 * await writePng('grid.png', grid);
 * ```
 */
export function composeImageGrid(
  cells: readonly (GridImage | GridCell | null)[],
  options: ImageGridOptions = {},
): RasterImage {
  if (!Array.isArray(cells)) {
    throw badOption(`composeImageGrid: cells must be an array, received ${show(cells)}`);
  }
  const o = mergeOptions('composeImageGrid', GRID_DEFAULTS, options);
  const n = cells.length;
  const columns = nonNegativeInt('columns', o.columns ?? Math.max(1, n), 1);
  const scale = nonNegativeInt('scale', o.scale, 1);
  const padding = nonNegativeInt('padding', o.padding, 0);
  const borderWidth = nonNegativeInt('borderWidth', o.borderWidth, 0);
  const groupRows = nonNegativeInt('groupRows', o.groupRows, 0);
  const groupGap = nonNegativeInt('groupGap', o.groupGap, 0);
  const background = checkRgb('background', o.background);
  const range = o.valueRange;
  if (!Array.isArray(range)) {
    throw badOption(
      `composeImageGrid: valueRange must be [low, high] with low < high, received ${show(range)}`,
    );
  }
  if (
    range.length !== 2 ||
    !Number.isFinite(range[0]) ||
    !Number.isFinite(range[1]) ||
    range[0] >= range[1]
  ) {
    throw badOption(
      `composeImageGrid: valueRange must be [low, high] with low < high, received ${show(range)}`,
    );
  }
  const [lo, hi] = range;

  const normalized = cells.map((c, i) => {
    const cell: GridCell = isCell(c) ? c : { image: c };
    const image = cell.image ?? null;
    if (image) {
      const ch = image.channels ?? 1;
      if (ch !== 1 && ch !== 3)
        throw badOption(`composeImageGrid: cell ${i} channels must be 1 or 3, received ${show(ch)}`);
      nonNegativeInt(`cells[${i}].height`, image.height, 1);
      nonNegativeInt(`cells[${i}].width`, image.width, 1);
      if (image.pixels.length !== image.height * image.width * ch) {
        throw new FashionMnistError(
          'BAD_SHAPE',
          `composeImageGrid: cell ${i} needs ${image.height * image.width * ch} values, received ${image.pixels.length}`,
        );
      }
    }
    const border = cell.border == null ? null : checkRgb(`cells[${i}].border`, cell.border);
    return { image, border };
  });

  const cellH = Math.max(1, ...normalized.map((c) => c.image?.height ?? 0)) * scale;
  const cellW = Math.max(1, ...normalized.map((c) => c.image?.width ?? 0)) * scale;
  const slotH = cellH + 2 * borderWidth;
  const slotW = cellW + 2 * borderWidth;
  const rows = Math.max(1, Math.ceil(n / columns));
  const usedColumns = n === 0 ? 1 : Math.min(columns, n);
  const width = padding + usedColumns * (slotW + padding);
  const groupOffset = (row: number) => (groupRows > 0 ? Math.floor(row / groupRows) * groupGap : 0);
  const height = padding + rows * (slotH + padding) + groupOffset(rows - 1);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(background, i);

  const toByte = (v: number) => Math.min(255, Math.max(0, Math.round(((v - lo) / (hi - lo)) * 255)));
  const fillRect = (x0: number, y0: number, w: number, h: number, rgb: Rgb) => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) data.set(rgb, (y * width + x) * 3);
  };

  normalized.forEach(({ image, border }, index) => {
    const sx = padding + (index % columns) * (slotW + padding);
    const row = Math.floor(index / columns);
    const sy = padding + row * (slotH + padding) + groupOffset(row);
    if (border && borderWidth > 0) {
      fillRect(sx, sy, slotW, borderWidth, border);
      fillRect(sx, sy + slotH - borderWidth, slotW, borderWidth, border);
      fillRect(sx, sy, borderWidth, slotH, border);
      fillRect(sx + slotW - borderWidth, sy, borderWidth, slotH, border);
    }
    if (!image) return;
    const ch = image.channels ?? 1;
    const ox = sx + borderWidth + Math.floor((cellW - image.width * scale) / 2);
    const oy = sy + borderWidth + Math.floor((cellH - image.height * scale) / 2);
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const k = (y * image.width + x) * ch;
        const r = toByte(image.pixels[k]!);
        const g = ch === 3 ? toByte(image.pixels[k + 1]!) : r;
        const b = ch === 3 ? toByte(image.pixels[k + 2]!) : r;
        for (let dy = 0; dy < scale; dy++) {
          let o2 = ((oy + y * scale + dy) * width + ox + x * scale) * 3;
          for (let dx = 0; dx < scale; dx++, o2 += 3) {
            data[o2] = r;
            data[o2 + 1] = g;
            data[o2 + 2] = b;
          }
        }
      }
    }
  });
  return { data, width, height, channels: 3 };
}
