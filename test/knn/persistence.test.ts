// Saving and loading k-NN classifiers: toBytes/fromBytes everywhere, files in Node (saveKnn/loadKnn of /node),
// http(s) with size and time limits, the universal entry's refusals, typed errors for every bad file, no leaks.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FashionMnist } from '../../src/data/assemble.js';
import { loadSample } from '../../src/data/node.js';
import { FashionMnistError } from '../../src/errors.js';
import { KnnClassifier, loadKnn as loadUniversal, saveKnn as saveUniversal } from '../../src/knn/index.js';
import { loadKnn, saveKnn } from '../../src/node.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';
import { closeServer, startServer, type TestServer } from '../helpers/http-server.js';
import { randomLabels, randomRows } from './reference.js';

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    if (e instanceof FashionMnistError) return e.code;
    throw e;
  }
  return 'OK';
}

let data: FashionMnist;
let dir: string;
beforeAll(async () => {
  data = await loadSample();
  dir = mkdtempSync(join(tmpdir(), 'fmnist-knn-save-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first `n` sample training images and labels, and 200 test images. */
function part(n: number) {
  return {
    x: data.train.images.subarray(0, n * 784),
    y: data.train.labels.subarray(0, n),
    q: data.test.images.subarray(0, 200 * 784),
  };
}

for (const backend of BACKENDS) {
  describe(`saving and loading k-NN on ${backend}`, () => {
    beforeAll(async () => {
      await useBackend(backend);
    });

    it('a file round trip predicts exactly what the saved classifier did (pixels stay one byte each)', async () => {
      const { x, y, q } = part(2000);
      const knn = new KnnClassifier({ k: 5 }).fit(x, y);
      const want = await knn.predict(q);
      const wantNb = await knn.kneighbors(q);
      const file = join(dir, `pixels-${backend}.fmknn`);
      const result = await saveKnn(knn, file);
      expect(result).toEqual({ destination: file, bytes: statSync(file).size });
      // 1 byte per pixel, 4 per label, a small header.
      expect(result.bytes).toBeLessThan(2000 * 784 + 2000 * 4 + 1024);
      const back = await loadKnn(file);
      expect(back.options).toMatchObject({ k: 5, metric: 'euclidean', weights: 'uniform', ties: 'nearest' });
      expect(Array.from(await back.predict(q))).toEqual(Array.from(want));
      const nb = await back.kneighbors(q);
      expect(Array.from(nb.indices)).toEqual(Array.from(wantNb.indices));
      expect(Array.from(nb.distances)).toEqual(Array.from(wantNb.distances));
      // The temporary file of the atomic write is gone.
      expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
      // A file: URL is a path too.
      const viaUrl = await loadKnn(pathToFileURL(file).href);
      expect(Array.from(await viaUrl.predict(q.subarray(0, 20 * 784)))).toEqual(
        Array.from(want.subarray(0, 20)),
      );
      await Promise.all([knn.dispose(), back.dispose(), viaUrl.dispose()]);
    });

    it('string labels, cosine, distance weights, lowest ties and float features survive toBytes/fromBytes', async () => {
      const names = [
        'top',
        'trouser',
        'pullover',
        'dress',
        'coat',
        'sandal',
        'shirt',
        'sneaker',
        'bag',
        'boot',
      ];
      const train = randomRows(300, 12, 5);
      const labels = Array.from(randomLabels(300, 10, 6), (c) => names[c]);
      const query = randomRows(60, 12, 7);
      const knn = new KnnClassifier<string>({
        k: 4,
        metric: 'cosine',
        weights: 'distance',
        ties: 'lowest',
      }).fit(train, labels);
      const bytes = knn.toBytes();
      const back = KnnClassifier.fromBytes<string>(bytes, { batchSize: 7 });
      expect(back.options).toMatchObject({
        k: 4,
        metric: 'cosine',
        weights: 'distance',
        ties: 'lowest',
        batchSize: 7,
      });
      expect(back.classes).toEqual(knn.classes);
      expect(await back.predict(query)).toEqual(await knn.predict(query));
      expect(Array.from(await back.predictProba(query))).toEqual(Array.from(await knn.predictProba(query)));
      expect(back.classCounts()).toEqual(knn.classCounts());
      // Float features are saved as float32, 4 bytes each.
      expect(bytes.length).toBeGreaterThan(300 * 12 * 4);
      await Promise.all([knn.dispose(), back.dispose()]);
    });

    it('a classifier grown by addExample (with examples not yet indexed) saves all of them', async () => {
      const { x, y, q } = part(400);
      const knn = new KnnClassifier({ k: 3 }).fit(x.subarray(0, 300 * 784), y.subarray(0, 300));
      await knn.predict(q.subarray(0, 784)); // index built over 300 rows
      for (let i = 300; i < 400; i++) knn.addExample(x.subarray(i * 784, (i + 1) * 784), y[i]);
      const want = await knn.predict(q);
      const back = KnnClassifier.fromBytes(knn.toBytes());
      expect(back.numSamples).toBe(400);
      expect(Array.from(await back.predict(q))).toEqual(Array.from(want));
      const refit = new KnnClassifier({ k: 3 }).fit(x, y);
      expect(Array.from(await refit.predict(q))).toEqual(Array.from(want));
      await Promise.all([knn.dispose(), back.dispose(), refit.dispose()]);
    });

    it('leaves no tensors behind on success and on failure', async () => {
      const { x, y, q } = part(100);
      const before = tf.memory().numTensors;
      const knn = new KnnClassifier({ k: 3 }).fit(x, y);
      const owned = tf.memory().numTensors;
      const file = join(dir, `leak-${backend}.fmknn`);
      await saveKnn(knn, file);
      knn.toBytes();
      expect(tf.memory().numTensors).toBe(owned);
      const back = await loadKnn(file);
      await back.predict(q);
      await back.dispose();
      expect(tf.memory().numTensors).toBe(owned);
      const bad = readFileSync(file);
      bad[bad.length - 10] ^= 1;
      writeFileSync(join(dir, 'bad.fmknn'), bad);
      const failures = [
        () => loadKnn(join(dir, 'bad.fmknn')),
        () => loadKnn(join(dir, 'missing.fmknn')),
        () => loadKnn(dir),
        () => saveKnn(knn, join(dir, 'no', 'such', 'folder.fmknn')),
        () => saveKnn(new KnnClassifier(), join(dir, 'empty.fmknn')),
        () => loadKnn(file, { maxBytes: 10 }),
        () => loadKnn(file, { search: 'fast' as never }),
      ];
      for (const f of failures) expect(await codeOf(f)).not.toBe('OK');
      expect(() => KnnClassifier.fromBytes(bad)).toThrow(FashionMnistError);
      expect(tf.memory().numTensors).toBe(owned);
      await knn.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('saving and loading k-NN: errors', () => {
  let knn: KnnClassifier;
  let file: string;
  let good: Uint8Array;
  beforeAll(async () => {
    await useBackend('cpu');
    const { x, y } = part(50);
    knn = new KnnClassifier({ k: 3 }).fit(x, y);
    file = join(dir, 'errors.fmknn');
    await saveKnn(knn, file);
    good = readFileSync(file);
  });
  afterAll(() => knn.dispose());

  it('damaged, truncated and foreign files are BAD_FILE naming the file', async () => {
    const damaged = good.slice();
    damaged[good.length >> 1] ^= 0x40;
    const cases: [string, Uint8Array][] = [
      ['damaged.fmknn', damaged],
      ['truncated.fmknn', good.subarray(0, good.length - 100)],
      ['header-only.fmknn', good.subarray(0, 40)],
      ['empty.fmknn', new Uint8Array(0)],
      [
        'foreign.png',
        Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, ...new Array(100).fill(7)]),
      ],
      ['model.json', new TextEncoder().encode('{"modelTopology": {}}')],
    ];
    for (const [name, bytes] of cases) {
      const path = join(dir, name);
      writeFileSync(path, bytes);
      const e = await loadKnn(path).catch((err: unknown) => err);
      expect(e, name).toBeInstanceOf(FashionMnistError);
      expect((e as FashionMnistError).code, name).toBe('BAD_FILE');
      expect((e as FashionMnistError).path).toBe(path);
      expect((e as FashionMnistError).message).toContain(path);
    }
  });

  it('a missing file is NOT_FOUND, a directory IO_ERROR, a file over maxBytes TOO_LARGE', async () => {
    expect(await codeOf(loadKnn(join(dir, 'nothing-here.fmknn')))).toBe('NOT_FOUND');
    expect(await codeOf(loadKnn(dir))).toBe('IO_ERROR');
    expect(await codeOf(loadKnn(file, { maxBytes: good.length - 1 }))).toBe('TOO_LARGE');
    expect(await codeOf(loadKnn(file, { maxBytes: good.length }))).toBe('OK');
  });

  it('saving into a missing folder or over a directory is IO_ERROR, and leaves no temporary file', async () => {
    expect(await codeOf(saveKnn(knn, join(dir, 'absent', 'x.fmknn')))).toBe('IO_ERROR');
    const taken = join(dir, 'a-directory');
    mkdirSync(taken, { recursive: true });
    expect(await codeOf(saveKnn(knn, taken))).toBe('IO_ERROR');
    expect(readdirSync(dir).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('overwrites atomically: the file holds the new classifier after a second save', async () => {
    const path = join(dir, 'twice.fmknn');
    await saveKnn(knn, path);
    const bigger = new KnnClassifier({ k: 1 }).fit(part(60).x, part(60).y);
    await saveKnn(bigger, path);
    const back = await loadKnn(path);
    expect(back.numSamples).toBe(60);
    expect(back.options.k).toBe(1);
    await Promise.all([bigger.dispose(), back.dispose()]);
  });

  it('bad arguments and options: BAD_OPTION / BAD_INPUT / NOT_FITTED / DISPOSED', async () => {
    expect(await codeOf(loadKnn(file, { maxBytes: 0 }))).toBe('BAD_OPTION');
    expect(await codeOf(loadKnn(file, { timeoutMs: -1 }))).toBe('BAD_OPTION');
    expect(await codeOf(loadKnn(file, { k: 3 } as never))).toBe('BAD_OPTION');
    expect(await codeOf(loadKnn(42 as never))).toBe('BAD_OPTION');
    expect(await codeOf(loadKnn(''))).toBe('BAD_OPTION');
    expect(await codeOf(saveKnn({} as never, join(dir, 'x.fmknn')))).toBe('BAD_INPUT');
    expect(await codeOf(saveKnn(new KnnClassifier(), join(dir, 'x.fmknn')))).toBe('NOT_FITTED');
    const gone = new KnnClassifier({ k: 1 }).fit(part(5).x, part(5).y);
    await gone.dispose();
    expect(await codeOf(saveKnn(gone, join(dir, 'x.fmknn')))).toBe('DISPOSED');
    expect(await codeOf(() => KnnClassifier.fromBytes(good, { k: 3 } as never))).toBe('BAD_OPTION');
    expect(await codeOf(() => KnnClassifier.fromBytes('bytes' as never))).toBe('BAD_INPUT');
  });

  it('the universal entry refuses file paths (naming /node) and Node refuses indexeddb:// (UNSUPPORTED)', async () => {
    for (const p of [file, './knn.fmknn', 'C:\\models\\knn.fmknn']) {
      const e = await loadUniversal(p).catch((err: unknown) => err);
      expect((e as FashionMnistError).code).toBe('UNSUPPORTED');
      expect((e as FashionMnistError).message).toContain('fashion-mnist-tfjs/node');
      expect(await codeOf(saveUniversal(knn, p))).toBe('UNSUPPORTED');
    }
    // No IndexedDB in Node: both entries say so.
    expect(await codeOf(saveUniversal(knn, 'indexeddb://x'))).toBe('UNSUPPORTED');
    expect(await codeOf(saveKnn(knn, 'indexeddb://x'))).toBe('UNSUPPORTED');
    expect(await codeOf(loadKnn('indexeddb://x'))).toBe('UNSUPPORTED');
    expect(await codeOf(saveKnn(knn, 'https://example.org/knn.fmknn'))).toBe('UNSUPPORTED');
    expect(await codeOf(loadUniversal('indexeddb://'))).toBe('BAD_OPTION');
  });
});

describe('loading k-NN over http', () => {
  let server: TestServer;
  let knn: KnnClassifier;
  let bytes: Uint8Array;
  beforeAll(async () => {
    await useBackend('cpu');
    server = await startServer();
    knn = new KnnClassifier({ k: 3 }).fit(part(80).x, part(80).y);
    bytes = knn.toBytes();
    server.routes.set('/knn.fmknn', { kind: 'bytes', body: bytes });
    server.routes.set('/cut.fmknn', { kind: 'cut', body: bytes, after: 1000 });
    server.routes.set('/oops', { kind: 'status', status: 500 });
  });
  afterAll(async () => {
    await knn.dispose();
    await server.close();
  });

  it('loads from an http URL in both entries, with identical predictions', async () => {
    const q = part(0).q.subarray(0, 50 * 784);
    const want = Array.from(await knn.predict(q));
    for (const load of [loadKnn, loadUniversal]) {
      const back = await load(`${server.url}knn.fmknn`);
      expect(Array.from(await back.predict(q))).toEqual(want);
      await back.dispose();
    }
  });

  it('HTTP errors and a cut connection are DOWNLOAD_FAILED, as for every download; too large TOO_LARGE', async () => {
    expect(await codeOf(loadUniversal(`${server.url}missing`))).toBe('DOWNLOAD_FAILED');
    expect(await codeOf(loadUniversal(`${server.url}oops`))).toBe('DOWNLOAD_FAILED');
    expect(['DOWNLOAD_FAILED', 'BAD_FILE']).toContain(await codeOf(loadUniversal(`${server.url}cut.fmknn`)));
    expect(await codeOf(loadUniversal(`${server.url}knn.fmknn`, { maxBytes: bytes.length - 1 }))).toBe(
      'TOO_LARGE',
    );
  });

  it('a body larger than maxBytes without Content-Length is cut off at the limit (TOO_LARGE)', async () => {
    let sent = 0;
    const chunked = createServer((_req, res) => {
      res.writeHead(200); // no content-length: chunked
      const chunk = Buffer.alloc(64 * 1024, 1);
      const pump = () => {
        while (sent < 64 * 2 ** 20) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    await new Promise<void>((r) => chunked.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(chunked.address() as AddressInfo).port}/big`;
    try {
      expect(await codeOf(loadUniversal(url, { maxBytes: 1 << 20 }))).toBe('TOO_LARGE');
      expect(sent).toBeLessThan(64 * 2 ** 20); // the download was abandoned, not read to the end
    } finally {
      await closeServer(chunked);
    }
  });

  it('a server that never answers is TIMEOUT after timeoutMs', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/slow`;
    try {
      const e = await loadKnn(url, { timeoutMs: 200 }).catch((err: unknown) => err);
      expect((e as FashionMnistError).code).toBe('TIMEOUT');
      expect((e as FashionMnistError).message).toContain('timeoutMs');
    } finally {
      await closeServer(silent);
    }
  });
});
