// Page side of `npm run bench:cnn -- --browser`: trains the reference CNN on wasm (with this library's training
// kernels) in Chromium, with XNNPACK threads where the page is cross-origin isolated, through the public
// `trainCnn`, on the training images the bench serves; posts images/s to `window.__benchResult`.

import { getThreadsCount, setThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs-core';
import { installWasmTrainingKernels } from '../../src/backend/wasm/index.js';
import { buildCnn, trainCnn } from '../../src/cnn/index.js';

declare global {
  interface Window {
    __benchResult?:
      | {
          imagesPerSec: number;
          threads: number;
          isolated: boolean;
          multithread: boolean;
          /** With ?profile=1: kernel milliseconds per batch by kernel name (tf.profile of a second pass). */
          kernelMs?: Record<string, number>;
        }
      | { error: string };
  }
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const threads = Number(params.get('threads') ?? '1');
  const images = Number(params.get('images') ?? '3200');
  setWasmPaths('/wasm/');
  setThreadsCount(threads);
  installWasmTrainingKernels();
  if (!(await tf.setBackend('wasm'))) throw new Error('the wasm backend did not start');
  const [img, lab] = await Promise.all(
    ['/images.bin', '/labels.bin'].map(async (u) => new Uint8Array(await (await fetch(u)).arrayBuffer())),
  );
  const count = lab!.length;
  const split = { images: img!, labels: lab!, count, height: 28, width: 28 };
  const model = buildCnn({ seed: 1 });
  const warm = { ...split, images: img!.subarray(0, 64 * 784), labels: lab!.subarray(0, 64), count: 64 };
  await trainCnn(model, warm, { epochs: 1, batchSize: 64, seed: 1 });
  const n = Math.min(images, count);
  const part = { ...split, images: img!.subarray(0, n * 784), labels: lab!.subarray(0, n), count: n };
  const history = await trainCnn(model, part, { epochs: 1, batchSize: 64, seed: 1 });
  let kernelMs: Record<string, number> | undefined;
  if (params.get('profile') === '1') {
    const batches = Math.ceil(n / 64);
    const info = await tf.profile(() =>
      trainCnn(model, part, { epochs: 1, batchSize: 64, seed: 1 }).then(() => 0),
    );
    kernelMs = {};
    for (const k of info.kernels)
      kernelMs[k.name] = (kernelMs[k.name] ?? 0) + Number(k.kernelTimeMs) / batches;
  }
  model.dispose();
  window.__benchResult = {
    imagesPerSec: n / history.seconds,
    threads: getThreadsCount(),
    isolated: globalThis.crossOriginIsolated === true,
    multithread: (await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT')) === true,
    ...(kernelMs ? { kernelMs } : {}),
  };
}

main().catch((e: unknown) => {
  window.__benchResult = { error: String(e instanceof Error ? (e.stack ?? e.message) : e) };
});
