// The CNN workflow end to end, with the package's public entries only: build the reference network, train it with random erasing (on the embedded sample
// by default, which takes about a minute, or on the full data set with --full), evaluate it, save it, and draw
// the prediction grid and the confusion matrix as SVG.
//
//   npx tsx examples/cnn.ts                       # sample: 6,000 training / 1,000 test images
//   npx tsx examples/cnn.ts --full --epochs 30    # full Fashion-MNIST
//   npx tsx examples/cnn.ts --pretrained --full   # no training: the shipped model on the full test set
//   npx tsx examples/cnn.ts --grid pics/grid.svg --confusion pics/cm.svg --model out/my-cnn
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { Command, InvalidArgumentError } from 'commander';
import { buildCnn, CLASS_NAMES, evaluateCnn, predictCnnTopK, subset, trainCnn } from 'fashion-mnist-tfjs';
import {
  loadFashionMnist,
  loadPretrained,
  loadSample,
  saveModel,
  selectBackend,
} from 'fashion-mnist-tfjs/node';
import { confusionMatrixSvg, predictionGridSvg } from 'fashion-mnist-tfjs/report';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return n;
};
const opts = new Command()
  .name('cnn')
  .option('--full', 'use the full data set instead of the embedded sample', false)
  .option('--pretrained', 'skip training: evaluate and draw the shipped pretrained model', false)
  .option('--epochs <n>', 'epochs', int('epochs'), 5)
  .option('--batch-size <n>', 'images per batch', int('batch-size'), 64)
  .option('--seed <n>', 'seed of weights, shuffles, erasing and dropout', int('seed'), 1)
  .option('--backend <name>', 'wasm (fast, with the training kernels) or cpu (slow)', 'wasm')
  .option('--model <dir>', 'where to save the trained model', 'out/cnn-model')
  .option('--grid <file>', 'prediction grid picture (SVG)', 'out/cnn-predictions.svg')
  .option('--confusion <file>', 'confusion matrix picture (SVG)', 'out/cnn-confusion.svg')
  .parse()
  .opts<{
    full: boolean;
    pretrained: boolean;
    epochs: number;
    batchSize: number;
    seed: number;
    backend: 'wasm' | 'cpu';
    model: string;
    grid: string;
    confusion: string;
  }>();

// For wasm this also installs the training kernels; an unknown or failing backend stops here with the reason.
await selectBackend(opts.backend);

const data = opts.full ? await loadFashionMnist() : await loadSample();
console.log(
  `${data.isSample ? 'embedded sample' : 'full data set'}: ${data.train.count} training / ${data.test.count} test ` +
    `images; backend ${tf.getBackend()}`,
);

const model = opts.pretrained ? await loadPretrained() : buildCnn({ seed: opts.seed });
if (!opts.pretrained) {
  const history = await trainCnn(model, data.train, {
    epochs: opts.epochs,
    batchSize: opts.batchSize,
    seed: opts.seed,
    schedule: 'cosine',
    erasing: { p: 0.15 },
    validationData: data.test,
    onBatchEnd: (p) => {
      if (process.stderr.isTTY) {
        process.stderr.write(
          `\repoch ${p.epoch + 1}/${p.epochs}: batch ${p.batch + 1}/${p.batches}, loss ${p.loss.toFixed(3)}`,
        );
      }
    },
    onEpochEnd: (e) => {
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
      console.log(
        `epoch ${e.epoch + 1}/${e.epochs}: loss ${e.loss.toFixed(4)}, train acc ${e.acc.toFixed(4)}, ` +
          `test acc ${e.valAcc?.toFixed(4)}, lr ${e.learningRate.toExponential(2)}, ` +
          `${Math.round(e.imagesPerSec)} img/s, ${e.seconds.toFixed(1)} s`,
      );
    },
  });
  console.log(`trained ${history.epochs.length} epochs in ${history.seconds.toFixed(0)} s`);
}

const ev = await evaluateCnn(model, data.test);
console.log(`test accuracy ${(ev.accuracy * 100).toFixed(2)} %, loss ${ev.loss.toFixed(4)}`);
for (const c of ev.perClass) {
  console.log(
    `  ${c.name.padEnd(12)} precision ${c.precision.toFixed(3)}  recall ${c.recall.toFixed(3)}  (${c.support} images)`,
  );
}
const [top] = await predictCnnTopK(model, subset(data.test, 0, 1), 3);
console.log(
  `first test image (a ${CLASS_NAMES[data.test.labels[0]]}): ` +
    top.map((p) => `${p.className} ${(p.probability * 100).toFixed(1)} %`).join(', '),
);

if (!opts.pretrained) {
  const saved = await saveModel(model, opts.model);
  console.log(`model saved in ${saved.dir} (${saved.files.join(', ')})`);
}
for (const [file, svg] of [
  [opts.grid, predictionGridSvg(data.test, ev, { count: 30, columns: 6 })],
  [opts.confusion, confusionMatrixSvg(ev.confusion)],
] as const) {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, svg);
  console.log(`wrote ${file}`);
}
model.dispose();
