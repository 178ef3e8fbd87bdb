// Run in a child process by bombs.test.ts, so that its peak memory (maxRSS) measures one attack alone:
//   node --import tsx test/data/bomb-child.ts <case>
// Prints one JSON line: the error's code (or "resolved"), the milliseconds the call took, and the peak RSS growth.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseIdx } from '../../src/data/idx.js';
import { loadFashionMnist as loadByUrl } from '../../src/data/load.js';
import { loadFashionMnist } from '../../src/data/node.js';
import { FashionMnistError } from '../../src/errors.js';
import { startServer } from '../helpers/http-server.js';
import { makeTinyDataset, writeTinyDataset } from '../helpers/tiny-dataset.js';
import { gzipBomb, imagesHeader } from './bombs.js';

const which = process.argv[2];
const ds = makeTinyDataset(5, 3);
// 1 GiB of output from ~1 MB of gzip, as in the issue.
const bomb = gzipBomb(1024, imagesHeader(5));
const cases: Record<string, () => Promise<unknown>> = {
  // The Node loader: the catalogue knows the file inflates to 3,936 bytes.
  'node-loader': async () => {
    const dir = writeTinyDataset(ds);
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), bomb);
    return () => loadFashionMnist({ dir, dataset: ds.spec });
  },
  // The universal loader over HTTP (DecompressionStream), limited by the same catalogue size.
  'url-loader': async () => {
    const server = await startServer();
    for (const [name, body] of ds.gz) server.routes.set(`/${name}`, { kind: 'bytes', body });
    server.routes.set('/train-images-idx3-ubyte.gz', { kind: 'bytes', body: bomb });
    return async () => {
      try {
        return await loadByUrl({ baseUrl: server.url, dataset: ds.spec });
      } finally {
        await server.close();
      }
    };
  },
  // parseIdx on arbitrary input: a header declaring [5, 28, 28], then a gigabyte more than it declares.
  'parse-idx-declared': async () => () => parseIdx(bomb, 'bomb.gz'),
  // parseIdx: zeros only (no IDX header at all).
  'parse-idx-zeros': async () => {
    const zeros = gzipBomb(1024);
    return () => parseIdx(zeros, 'zeros.gz');
  },
  // parseIdx: a header declaring 10^12 bytes.
  'parse-idx-huge-header': async () => {
    const huge = gzipBomb(1024, imagesHeader(1_275_510_204));
    return () => parseIdx(huge, 'huge.gz');
  },
};

const prepare = cases[which];
if (!prepare) throw new Error(`unknown case ${which}`);
const run = (await prepare()) as () => Promise<unknown>;
globalThis.gc?.();
// Linux: writing 5 to clear_refs resets the peak RSS (VmHWM), so the peak read after the call is the call's own.
const canReset = (() => {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
})();
const peakRss = () => {
  if (canReset) {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  }
  return process.resourceUsage().maxRSS * 1024;
};
const rssBefore = process.memoryUsage().rss;
const start = performance.now();
let code = 'resolved';
try {
  await run();
} catch (e) {
  code = e instanceof FashionMnistError ? e.code : `untyped ${String(e)}`;
}
const ms = performance.now() - start;
const peakMiB = (peakRss() - rssBefore) / 2 ** 20;
console.log(
  JSON.stringify({ case: which, code, ms: Math.round(ms), extraRssMiB: Math.round(peakMiB), canReset }),
);
