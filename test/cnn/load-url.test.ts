// Loading a model over HTTP (the universal loadPretrained, and the Node one given an http URL): the same manifest
// rules as loadModel on a folder, size limits checked while the bytes stream in, a timeout per request, and no
// tensor left behind on success or failure.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { buildCnn } from '../../src/cnn/build.js';
import { loadModel, saveModel } from '../../src/cnn/io-node.js';
import { loadPretrained as loadPretrainedUniversal } from '../../src/cnn/pretrained.js';
import { loadPretrained as loadPretrainedNode } from '../../src/cnn/pretrained-node.js';
import { FashionMnistError } from '../../src/errors.js';
import * as rootEntry from '../../src/index.js';
import * as nodeEntry from '../../src/node.js';
import { BACKENDS, useBackend } from '../helpers/backends.js';
import { closeServer, startServer, type TestServer } from '../helpers/http-server.js';

const root = mkdtempSync(join(tmpdir(), 'fmnist-load-url-'));
const dir = join(root, 'm');
let files: Record<string, Buffer> = {};
let shards: string[] = [];
let server: TestServer;

beforeAll(async () => {
  await useBackend('cpu');
  const model = buildCnn({ seed: 3, filters: [4, 4], denseUnits: 16 }); // compiled with Adam
  await saveModel(model, dir, { shardBytes: 6_000 }); // three weight files
  shards = readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort();
  model.dispose();
  files = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f))]));
  server = await startServer();
});
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

/** Serves the saved model under `/<prefix>/`, with `edit` applied to a copy of its model.json. */
function serve(prefix: string, edit?: (json: { weightsManifest: { paths: string[] }[] }) => void): string {
  const json = JSON.parse(files['model.json'].toString('utf8'));
  edit?.(json);
  for (const [f, body] of Object.entries(files))
    server.routes.set(`/${prefix}/${f}`, { kind: 'bytes', body });
  server.routes.set(`/${prefix}/model.json`, { kind: 'bytes', body: Buffer.from(JSON.stringify(json)) });
  return `${server.url}${prefix}/model.json`;
}

const probe = () => tf.randomUniform([2, 28, 28, 1], 0, 1, 'float32', 7);
const outputs = (m: tfl.LayersModel) =>
  tf.tidy(() => Array.from((m.predict(probe()) as tf.Tensor).dataSync()));

async function failure(p: Promise<unknown>): Promise<FashionMnistError> {
  const e = await p.then(
    () => undefined,
    (err) => err,
  );
  if (!(e instanceof FashionMnistError)) throw new Error(`expected a FashionMnistError, got ${e}`);
  return e;
}

for (const backend of BACKENDS) {
  describe(`loading over HTTP on ${backend}`, () => {
    beforeAll(() => useBackend(backend));
    afterAll(() => useBackend('cpu'));

    it('the universal and the Node loader give the model loadModel gives, and dispose() frees all of it', async () => {
      const url = serve('ok');
      const local = await loadModel(dir);
      const expected = outputs(local);
      local.dispose();
      for (const load of [loadPretrainedUniversal, loadPretrainedNode]) {
        const before = tf.memory().numTensors;
        for (let i = 0; i < 3; i++) {
          const remote = await load({ url });
          expect(outputs(remote)).toEqual(expected);
          expect(remote.optimizer.getClassName()).toBe('Adam'); // it comes back compiled
          remote.dispose();
        }
        // 0.1.0's universal loader left Adam's two variables behind on every load + dispose.
        expect(tf.memory().numTensors).toBe(before);
      }
    });
  });
}

describe('manifest rules over HTTP', () => {
  beforeAll(() => useBackend('cpu'));

  it('refuses a weight path outside the model folder, before requesting it', async () => {
    server.routes.set('/secret.bin', {
      kind: 'bytes',
      body: Buffer.alloc(4),
    });
    for (const bad of ['../../secret.bin', '/secret.bin', 'sub/../../secret.bin', '%2e%2e/secret.bin']) {
      const url = serve('traversal', (j) => {
        j.weightsManifest[0].paths[0] = bad;
      });
      server.hits.length = 0;
      for (const load of [loadPretrainedUniversal, loadPretrainedNode]) {
        const err = await failure(load({ url }));
        expect(err.code).toBe('BAD_MODEL');
        expect(err.message).toMatch(/is not a file name inside the model directory/);
      }
      expect(server.hits).toEqual(['/traversal/model.json', '/traversal/model.json']);
    }
  });

  it('refuses a weight file 10 bytes too long, and a missing tail', async () => {
    expect(shards.length).toBe(3);
    const last = shards[2];
    const url = serve('long');
    server.routes.set(`/long/${last}`, {
      kind: 'bytes',
      body: Buffer.concat([files[last], Buffer.alloc(10)]),
    });
    const err = await failure(loadPretrainedUniversal({ url }));
    expect(err.code).toBe('BAD_MODEL');
    expect(err.message).toMatch(/hold more than the \d+ bytes the manifest's weights need/);
    const short = serve('short');
    server.routes.set(`/short/${last}`, { kind: 'bytes', body: files[last].subarray(0, 100) });
    await expect(loadPretrainedUniversal({ url: short })).rejects.toMatchObject({
      code: 'BAD_MODEL',
      message: expect.stringMatching(/truncated/),
    });
  });

  it('failed requests are DOWNLOAD_FAILED with the URL', async () => {
    const url = serve('missing');
    server.routes.delete(`/missing/${shards[1]}`);
    await expect(loadPretrainedUniversal({ url })).rejects.toMatchObject({
      code: 'DOWNLOAD_FAILED',
      path: `${server.url}missing/${shards[1]}`,
      message: expect.stringMatching(/HTTP 404/),
    });
    await expect(loadPretrainedUniversal({ url: `${server.url}nothing/model.json` })).rejects.toMatchObject({
      code: 'DOWNLOAD_FAILED',
    });
    const cut = serve('cut');
    server.routes.set(`/cut/${shards[0]}`, { kind: 'cut', body: files[shards[0]], after: 1000 });
    await expect(loadPretrainedUniversal({ url: cut })).rejects.toMatchObject({ code: 'DOWNLOAD_FAILED' });
  });

  it('a model.json that is not a model is BAD_MODEL', async () => {
    server.routes.set('/html/model.json', { kind: 'bytes', body: Buffer.from('<html>sign in</html>') });
    await expect(loadPretrainedUniversal({ url: `${server.url}html/model.json` })).rejects.toMatchObject({
      code: 'BAD_MODEL',
      message: expect.stringMatching(/not valid JSON/),
    });
  });

  it('failed loads leave no tensor behind', async () => {
    const bad = serve('bad-topology');
    const json = JSON.parse(files['model.json'].toString('utf8'));
    json.modelTopology.config.layers[3].class_name = 'NoSuchLayer';
    server.routes.set('/bad-topology/model.json', { kind: 'bytes', body: Buffer.from(JSON.stringify(json)) });
    const traversal = serve('traversal2', (j) => {
      j.weightsManifest[0].paths[0] = '../x.bin';
    });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 5; i++) {
      await expect(loadPretrainedUniversal({ url: bad })).rejects.toMatchObject({ code: 'BAD_MODEL' });
      await expect(loadPretrainedUniversal({ url: traversal })).rejects.toMatchObject({ code: 'BAD_MODEL' });
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});

/**
 * A server for what the shared test server cannot do: `stall` answers with headers and 10 bytes, then nothing;
 * `chunked` answers without a declared length, in small chunks (so only counting the stream can stop it).
 */
async function rawServer(
  files: Record<string, Buffer>,
  how: { stall?: string; chunked?: string },
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const name = (req.url ?? '').split('/').pop() as string;
    const body = files[name];
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    if (name === how.chunked) {
      res.writeHead(200); // no content-length: chunked transfer encoding
      for (let at = 0; at < body.length; at += 512) res.write(body.subarray(at, at + 512));
      res.end();
      return;
    }
    res.writeHead(200, { 'content-length': String(body.length) });
    if (name === how.stall) res.write(body.subarray(0, 10));
    else res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/m/`,
    close: () => closeServer(server),
  };
}

describe('streamed size checks', () => {
  beforeAll(() => useBackend('cpu'));

  it('a weight file 10 bytes too long, sent without a declared length, is refused as it streams', async () => {
    const last = shards[2];
    const s = await rawServer(
      { ...files, [last]: Buffer.concat([files[last], Buffer.alloc(10)]) },
      { chunked: last },
    );
    try {
      await expect(loadPretrainedUniversal({ url: `${s.url}model.json` })).rejects.toMatchObject({
        code: 'BAD_MODEL',
        message: expect.stringMatching(/hold more than the \d+ bytes/),
      });
    } finally {
      await s.close();
    }
    // The same files, of the right length, load through the streamed path.
    const ok = await rawServer(files, { chunked: last });
    try {
      (await loadPretrainedUniversal({ url: `${ok.url}model.json` })).dispose();
    } finally {
      await ok.close();
    }
  });
});

describe('timeouts', () => {
  beforeAll(() => useBackend('cpu'));

  for (const which of ['weight file', 'model.json']) {
    it(`a stalled ${which} is TIMEOUT after timeoutMs, not a hang`, async () => {
      const stall = which === 'model.json' ? which : shards[1];
      const s = await rawServer(files, { stall });
      try {
        const started = Date.now();
        const err = await failure(loadPretrainedUniversal({ url: `${s.url}model.json`, timeoutMs: 300 }));
        expect(err.code).toBe('TIMEOUT');
        expect(err.path).toBe(`${s.url}${stall}`);
        expect(err.message).toMatch(
          /within 300 ms; the server stalled. Retry, try another mirror, or raise the option 'timeoutMs'/,
        );
        // 0.1.0 hung for good (> 60 s); the bound here is generous so that a busy machine passes.
        expect(Date.now() - started).toBeLessThan(30_000);
        await expect(loadPretrainedNode({ url: `${s.url}model.json`, timeoutMs: 300 })).rejects.toMatchObject(
          { code: 'TIMEOUT' },
        );
      } finally {
        await s.close();
      }
    });
  }

  it('timeoutMs is checked, with a documented default', async () => {
    for (const timeoutMs of [0, -1, 1.5, 2 ** 31, Number.NaN, '5' as never]) {
      await expect(
        loadPretrainedUniversal({ url: 'http://127.0.0.1:9/m/model.json', timeoutMs }),
      ).rejects.toMatchObject({
        code: 'BAD_OPTION',
      });
    }
  });
});

describe('loadPretrained: one options type, in both entries', () => {
  beforeAll(() => useBackend('cpu'));

  it('/node exports its own loadPretrained over the root one, with the same signature and options type', () => {
    expect(nodeEntry.loadPretrained).toBe(loadPretrainedNode);
    expect(rootEntry.loadPretrained).toBe(loadPretrainedUniversal);
    // Checked by tsc (npm run typecheck): 0.1.0's /node function did not take the options type it re-exported.
    expectTypeOf(nodeEntry.loadPretrained).toEqualTypeOf(rootEntry.loadPretrained);
    expectTypeOf<Parameters<typeof nodeEntry.loadPretrained>[0]>().toEqualTypeOf<
      rootEntry.LoadPretrainedOptions | 'fashion-cnn' | 'fashion-vgg-bn' | undefined
    >();
  });

  it('the universal one refuses dir and file: URLs with UNSUPPORTED, naming the Node entry', async () => {
    for (const arg of [
      { dir },
      { url: pathToFileURL(join(dir, 'model.json')) },
      undefined,
      'fashion-cnn' as const,
    ]) {
      const err = await failure(loadPretrainedUniversal(arg));
      expect(err.code).toBe('UNSUPPORTED');
      expect(err.message).toMatch(/fashion-mnist-tfjs\/node/);
    }
  });

  it('the Node one reads a folder, a file: URL, or an http URL', async () => {
    const expected = await loadModel(dir);
    const want = outputs(expected);
    expected.dispose();
    for (const arg of [{ dir }, { url: pathToFileURL(join(dir, 'model.json')) }, { url: serve('node') }]) {
      const m = await loadPretrainedNode(arg);
      expect(outputs(m)).toEqual(want);
      m.dispose();
    }
  });

  it('refuses bad names and options with BAD_OPTION, in both entries', async () => {
    for (const load of [loadPretrainedUniversal, loadPretrainedNode]) {
      const bad = [
        'no-such-model',
        { name: 'no-such-model' },
        { name: 'fashion-cnn', url: 'http://127.0.0.1:9/model.json' },
        { url: 'http://127.0.0.1:9/model.json', dir },
        { url: 42 },
        { url: '' },
        { dir: 42 },
        { uri: 'x' },
        42,
        'models/fashion-cnn/model.json',
        { url: 'models/fashion-cnn/model.json' }, // relative, and there is no page to resolve it against
      ];
      for (const arg of bad) {
        const err = await failure(load(arg as never));
        expect(err.code).toBe('BAD_OPTION');
      }
    }
    const err = await failure(loadPretrainedNode('models/fashion-cnn' as never));
    expect(err.message).toMatch(
      /not a shipped model; the names are 'fashion-cnn', 'fashion-vgg-bn'; to load your own copy pass/,
    );
  });
});
