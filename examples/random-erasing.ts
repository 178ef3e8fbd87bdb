// Random erasing on real Fashion-MNIST images: writes a PNG grid with the originals on top, then the
// same images erased with one random value per rectangle, then with pixel_level noise.
//
//   npx tsx examples/random-erasing.ts [out.png]      (default: docs/images/random-erasing.png)

import { CLASS_NAMES, RandomEraser } from 'fashion-mnist-tfjs';
import { loadSample, writePng } from 'fashion-mnist-tfjs/node';
import { composeImageGrid, type GridImage } from 'fashion-mnist-tfjs/report';

const out = process.argv[2] ?? 'docs/images/random-erasing.png';
const PER_CLASS = 2;
const SIZE = 28 * 28;

const { test } = await loadSample();

// Two test images of each class, in class order, so that every column shows one class.
const picked: number[] = [];
for (let round = 0; round < PER_CLASS; round++) {
  for (let c = 0; c < CLASS_NAMES.length; c++) {
    let seen = 0;
    for (let i = 0; i < test.count; i++) {
      if (test.labels[i] === c && seen++ === round) {
        picked.push(i);
        break;
      }
    }
  }
}
const originals = picked.map((i) => test.images.subarray(i * SIZE, (i + 1) * SIZE));

// p: 1 so that every image in the picture is erased; the other options are the defaults.
const plain = new RandomEraser({ p: 1, seed: 2017 });
const noisy = new RandomEraser({ p: 1, pixel_level: true, seed: 2017 });
const erased = originals.map((img) => plain.eraseImage(img, [28, 28]));
const erasedNoise = originals.map((img) => noisy.eraseImage(img, [28, 28]));

const columns = CLASS_NAMES.length;
const cells = (images: Uint8Array[]): GridImage[] =>
  images.map((pixels) => ({ pixels, height: 28, width: 28 }));
const grid = composeImageGrid([...cells(originals), ...cells(erased), ...cells(erasedNoise)], {
  columns,
  scale: 3,
  padding: 3,
  groupRows: PER_CLASS,
  groupGap: 15,
});
await writePng(out, grid);
console.log(
  `wrote ${out} (${grid.width}×${grid.height}): ${originals.length} originals, erased then pixel_level`,
);
console.log('one value per rectangle:', plain.stats);
console.log('pixel_level:', noisy.stats);
