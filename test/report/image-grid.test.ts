// composeImageGrid: layout arithmetic, value mapping, gray/RGB mixing, borders, validation.
import { describe, expect, it } from 'vitest';
import { composeImageGrid, type GridImage, type RasterImage, type Rgb } from '../../src/report/image-grid.js';

const BAD_OPTION = expect.objectContaining({ name: 'FashionMnistError', code: 'BAD_OPTION' });

function pixel(r: RasterImage, x: number, y: number): number[] {
  const i = (y * r.width + x) * r.channels;
  return Array.from(r.data.subarray(i, i + r.channels));
}

const gray = (value: number, h = 2, w = 3): GridImage => ({
  pixels: new Array(h * w).fill(value),
  height: h,
  width: w,
});

describe('composeImageGrid', () => {
  it('lays cells out row-major with padding, scale and background', () => {
    const grid = composeImageGrid([gray(0), gray(255), gray(128)], {
      columns: 2,
      scale: 2,
      padding: 1,
      background: [10, 20, 30],
    });
    // 2 columns of 6 px + 3 px padding; 2 rows of 4 px + 3 px padding.
    expect([grid.width, grid.height, grid.channels]).toEqual([15, 11, 3]);
    expect(pixel(grid, 0, 0)).toEqual([10, 20, 30]);
    expect(pixel(grid, 1, 1)).toEqual([0, 0, 0]);
    expect(pixel(grid, 6, 4)).toEqual([0, 0, 0]);
    expect(pixel(grid, 7, 4)).toEqual([10, 20, 30]);
    expect(pixel(grid, 8, 1)).toEqual([255, 255, 255]);
    expect(pixel(grid, 1, 6)).toEqual([128, 128, 128]);
    expect(pixel(grid, 8, 6)).toEqual([10, 20, 30]); // empty fourth slot
  });

  it('maps valueRange to 0..255 with clamping, and mixes gray and RGB cells', () => {
    const rgb: GridImage = { pixels: [1, 0, 0.5], height: 1, width: 1, channels: 3 };
    const grid = composeImageGrid([{ pixels: [-1, 0.5, 2], height: 1, width: 3 }, rgb], {
      valueRange: [0, 1],
      padding: 0,
    });
    expect(grid.width).toBe(6);
    expect([pixel(grid, 0, 0), pixel(grid, 1, 0), pixel(grid, 2, 0)]).toEqual([
      [0, 0, 0],
      [128, 128, 128],
      [255, 255, 255],
    ]);
    expect(pixel(grid, 3, 0)).toEqual([255, 255, 255]); // background left of the centred pixel
    expect(pixel(grid, 4, 0)).toEqual([255, 0, 128]); // centred in a 3-wide slot
  });

  it('frames cells with their border colour, leaves borderless cells on background', () => {
    const grid = composeImageGrid([{ image: gray(50), border: [255, 0, 0] }, gray(60), null], {
      columns: 3,
      padding: 1,
      borderWidth: 2,
    });
    expect(grid.width).toBe(1 + 3 * (3 + 4 + 1));
    expect(pixel(grid, 1, 1)).toEqual([255, 0, 0]);
    expect(pixel(grid, 3, 3)).toEqual([50, 50, 50]);
    expect(pixel(grid, 9, 1)).toEqual([255, 255, 255]);
    expect(pixel(grid, 11, 3)).toEqual([60, 60, 60]);
  });

  it('separates groups of rows by groupGap extra pixels', () => {
    const cells = [gray(10, 1, 1), gray(20, 1, 1), gray(30, 1, 1)];
    const grid = composeImageGrid(cells, { columns: 1, padding: 1, groupRows: 2, groupGap: 3 });
    expect(grid.height).toBe(1 + 3 * 2 + 3);
    expect([pixel(grid, 1, 1), pixel(grid, 1, 3), pixel(grid, 1, 5), pixel(grid, 1, 8)]).toEqual([
      [10, 10, 10],
      [20, 20, 20],
      [255, 255, 255],
      [30, 30, 30],
    ]);
    expect(composeImageGrid(cells, { columns: 1, padding: 1 }).height).toBe(7);
  });

  it('rejects bad options and cells', () => {
    expect(() => composeImageGrid([gray(0)], { scale: 0 })).toThrow(BAD_OPTION);
    expect(() => composeImageGrid([gray(0)], { scale: '2' as unknown as number })).toThrow(BAD_OPTION);
    expect(() => composeImageGrid([gray(0)], { colums: 2 } as never)).toThrow(/unknown option 'colums'/);
    expect(() => composeImageGrid([gray(0)], { valueRange: [1, 1] })).toThrow(BAD_OPTION);
    expect(() => composeImageGrid([gray(0)], { valueRange: 1 as unknown as [number, number] })).toThrow(
      BAD_OPTION,
    );
    expect(() => composeImageGrid([{ pixels: [1, 2], height: 2, width: 2 }])).toThrow(/needs 4 values/);
    expect(() => composeImageGrid([{ image: gray(0), border: [300, 0, 0] }])).toThrow(BAD_OPTION);
    expect(() => composeImageGrid([gray(0)], { background: 'white' as unknown as Rgb })).toThrow(BAD_OPTION);
    expect(() => composeImageGrid('x' as never)).toThrow(BAD_OPTION);
  });
});
