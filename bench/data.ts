// How long loading the full data set takes beyond reading the files: decompression, SHA-256 verification and
// decoding. Run: npm run bench:data [-- DIR]
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FASHION_MNIST } from '../src/data/catalog.js';
import { parseIdx } from '../src/data/idx.js';
import { DEBIAN_DIR } from '../src/data/node.js';
import { loadFashionMnist } from '../src/node.js';

const dir = process.argv[2] ?? process.env.FASHION_MNIST_DIR ?? DEBIAN_DIR;
const runs = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const read: number[] = [];
const load: number[] = [];
const loadNoVerify: number[] = [];
const parse: number[] = [];
const trainImages = await readFile(join(dir, FASHION_MNIST.files[0].name));
for (let i = 0; i < runs; i++) {
  parse.push(await time(() => parseIdx(trainImages, FASHION_MNIST.files[0].name)));
  read.push(await time(() => Promise.all(FASHION_MNIST.files.map((f) => readFile(join(dir, f.name))))));
  load.push(await time(() => loadFashionMnist({ dir })));
  loadNoVerify.push(await time(() => loadFashionMnist({ dir, verify: false })));
}
const r = median(read);
const l = median(load);
const n = median(loadNoVerify);
console.log(`data set: ${dir} (median of ${runs} runs, Node ${process.version})`);
console.log(`read the four .gz files:            ${r.toFixed(0)} ms`);
console.log(
  `loadFashionMnist (verify, default): ${l.toFixed(0)} ms  -> ${(l - r).toFixed(0)} ms beyond reading`,
);
console.log(
  `loadFashionMnist (verify: false):   ${n.toFixed(0)} ms  -> ${(n - r).toFixed(0)} ms beyond reading`,
);
console.log(
  `parseIdx of the training images (universal, DecompressionStream, streamed): ${median(parse).toFixed(0)} ms`,
);
