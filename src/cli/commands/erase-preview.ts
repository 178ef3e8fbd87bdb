import { Command } from 'commander';
import { RandomEraser } from '../../augment/random-eraser.js';
import { loadSample } from '../../data/node.js';
import { composeImageGrid, type GridImage } from '../../report/image-grid.js';
import { writePng } from '../../report/png.js';
import {
  afterWork,
  type CliIo,
  type CommonFlags,
  errorJson,
  intArg,
  makeOut,
  numArg,
  outputOptions,
} from '../context.js';
import { checkOutputFile } from '../paths.js';
import { checkEraseFlags, type EraseFlags, eraseFromFlags, eraseOptions } from './erase-options.js';

interface PreviewFlags extends CommonFlags, EraseFlags {
  out: string;
  count: number;
  draws: number;
  p: number;
  seed: number;
  scale: number;
}

/** `fashion-mnist erase-preview`: a picture of random erasing with the given options. */
export function erasePreviewCommand(io: CliIo): Command {
  const cmd = new Command('erase-preview')
    .summary('write a PNG of random erasing with the given options')
    .description(
      'Draws real Fashion-MNIST test images (from the embedded sample, one per class in turn) in the top row ' +
        'and the same images randomly erased below, one row per draw: a quick way to see what a set of ' +
        'erasing options does before training with them. The options are the reference ones (p, s_l, s_h, ' +
        'r_1, r_2, v_l, v_h, pixel_level).',
    )
    .option('-o, --out <file>', 'PNG file to write', 'erase-preview.png')
    .option('--count <n>', 'images per row', intArg('--count', 1, 100), 10)
    .option('--draws <n>', 'erased rows under the originals', intArg('--draws', 1, 20), 3)
    .option('--p <x>', 'probability that an image is erased', numArg('--p', 0, 1), 1)
    .option('--seed <n>', 'seed of the random draws', intArg('--seed', 0), 1)
    .option('--scale <n>', 'pixels per image pixel in the picture', intArg('--scale', 1, 16), 3);
  eraseOptions(cmd, '0..255', 0, 255);
  // No tensors are involved: no --backend here.
  outputOptions(cmd).action(async (flags: PreviewFlags) => {
    const out = makeOut(io, flags);
    checkEraseFlags(flags, flags.p);
    const path = checkOutputFile('--out', flags.out);
    const eraser = new RandomEraser({ ...eraseFromFlags(flags), p: flags.p, seed: flags.seed });
    const data = await loadSample();
    const test = data.test;
    const px = test.height * test.width;
    // One image of each class in turn, so that the picture shows every kind of garment.
    const chosen: number[] = [];
    const seen = new Array<number>(10).fill(0);
    for (let i = 0; i < test.count && chosen.length < flags.count; i++) {
      const round = Math.floor(chosen.length / 10);
      if (seen[test.labels[i]] === round) {
        chosen.push(i);
        seen[test.labels[i]]++;
      }
    }
    const cells: GridImage[] = [];
    const originals = chosen.map((i) => test.images.subarray(i * px, (i + 1) * px));
    for (const pixels of originals) cells.push({ pixels, height: test.height, width: test.width });
    for (let d = 0; d < flags.draws; d++) {
      for (const pixels of originals) {
        cells.push({
          pixels: eraser.eraseImage(pixels, [test.height, test.width]),
          height: test.height,
          width: test.width,
        });
      }
    }
    const grid = composeImageGrid(cells, { columns: chosen.length, scale: flags.scale, padding: 2 });
    const written = await afterWork('writing the picture', path, () => writePng(path, grid));
    const stats = eraser.stats;
    if (flags.json) {
      out.json({
        command: 'erase-preview',
        file: written.error ? undefined : path,
        options: eraser.options,
        seed: eraser.seed,
        stats,
        ...(written.error ? { error: errorJson(written.error) } : {}),
      });
    } else {
      if (!written.error) {
        out.say(`wrote ${path}: ${chosen.length} originals (top row) and ${flags.draws} erased draws below`);
      }
      out.say(
        `erased ${stats.erased} of ${stats.images} images (${stats.skipped} left alone by p, ${stats.exhausted} with no fitting rectangle)`,
      );
    }
    if (written.error) out.fail(written.error);
  });
  return cmd;
}
