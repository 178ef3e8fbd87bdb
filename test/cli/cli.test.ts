import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import jpeg from 'jpeg-js';
import pngjs from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PretrainedModelName } from '../../src/cnn/pretrained.js';
import { pretrainedModelDir } from '../../src/cnn/pretrained-node.js';
import { CLASS_NAMES } from '../../src/data/catalog.js';
import { loadSample } from '../../src/data/node.js';
import { cli, STACK_LINE } from './run.js';

const COMMANDS = ['data', 'knn', 'train', 'evaluate', 'predict', 'erase-preview'];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fmnist-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('help and usage errors', () => {
  it('lists every command and the exit codes', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of COMMANDS) expect(r.stdout).toContain(`  ${c}`);
    expect(r.stdout).toContain('Exit codes: 0 success, 2');
  });

  it.each(COMMANDS)('%s --help shows usage and the common options', async (c) => {
    const r = await cli([c, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: fashion-mnist ${c}`);
    for (const flag of ['--quiet', '--json', '--help']) expect(r.stdout).toContain(flag);
    // --backend only where TensorFlow.js runs.
    if (c === 'data' || c === 'erase-preview') expect(r.stdout).not.toContain('--backend');
    else expect(r.stdout).toContain('--backend <name>');
  });

  it('without a command prints help and exits 2', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Usage: fashion-mnist');
  });

  it.each([
    [['knn', '--k', '0'], /--k must be an integer >= 1, received '0'/],
    [['knn', '--k', 'five'], /--k must be an integer >= 1, received 'five'/],
    [['knn', '--weights', 'heavy'], /Allowed choices are uniform, distance/],
    [['knn', '--backend', 'tpu'], /Allowed choices are auto, tfjs-node-gpu, tfjs-node, wasm, cpu/],
    [['train', '--erase-fraction', '1.5'], /--erase-fraction must be a number from 0 to 1/],
    [['knn', '--colour'], /unknown option '--colour'/],
    [['predict'], /missing required argument 'images'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('%j exits 2 with a message and no stack trace', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });
});

describe('data', () => {
  it('--sample --json says where the data is and lists the verified checksums', async () => {
    const r = await cli(['data', '--sample', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.source.kind).toBe('sample');
    expect(out.isSample).toBe(true);
    expect([out.train, out.test]).toEqual([6000, 1000]);
    expect(out.files).toHaveLength(4);
    for (const f of out.files) expect(f.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a directory without the data set exits 2 and says how to get it', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    const r = await cli(['data', '--data-dir', empty]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`Fashion-MNIST files missing in ${empty}`);
    expect(r.stderr).toContain('apt-get install dataset-fashion-mnist');
    expect(r.stderr).toContain('--sample');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('FASHION_MNIST_DIR pointing nowhere useful exits 2 with instructions', async () => {
    const r = await cli(['data'], { FASHION_MNIST_DIR: join(dir, 'nothing-here') });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('FASHION_MNIST_DIR=');
    expect(r.stderr).toContain('apt-get install dataset-fashion-mnist');
  });
});

describe('knn', () => {
  it('scores a test subset, with consistent JSON, the same on cpu and wasm, and writes the report', async () => {
    const report = join(dir, 'knn.html');
    const runs = [];
    for (const backend of ['cpu', 'wasm']) {
      const r = await cli([
        'knn',
        '--sample',
        '--test-size',
        '150',
        '--backend',
        backend,
        '--json',
        ...(backend === 'wasm' ? ['--report', report] : []),
      ]);
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(r.code).toBe(0);
      runs.push(JSON.parse(r.stdout));
    }
    const [cpu, wasm] = runs;
    expect(cpu.backend).toBe('cpu');
    expect(wasm.backend).toBe('wasm');
    // k-NN is exact: the backends must agree on every prediction, hence on the confusion matrix.
    expect(wasm.confusion).toEqual(cpu.confusion);
    expect(wasm.test).toBe(150);
    expect(wasm.train).toBe(6000);
    expect(wasm.isSample).toBe(true);
    const diagonal = wasm.confusion.reduce((n: number, row: number[], i: number) => n + row[i], 0);
    const total = wasm.confusion.flat().reduce((a: number, b: number) => a + b, 0);
    expect(total).toBe(150);
    expect(diagonal).toBe(wasm.correct);
    expect(wasm.accuracy).toBeCloseTo(wasm.correct / 150, 12);
    // On the sample, raw-pixel k-NN lands well above chance; the floor is far below what it measures (~84 %).
    expect(wasm.accuracy).toBeGreaterThan(0.7);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain(`${(wasm.accuracy * 100).toFixed(2)} %`);
    expect(html).toContain('data-testid="sample-banner"');
    expect(html.match(/<figure class="(ok|bad)"/g)).toHaveLength(40);
  });

  it('prints a human summary marked SAMPLE, and nothing but JSON with --json', async () => {
    const human = await cli(['knn', '--sample', '--test-size', '50', '--train-size', '1000']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^SAMPLE k-NN accuracy: \d+\.\d\d % \(\d+\/50\)/);
    expect(human.stdout).toContain('Ankle boot');
    expect(human.stderr).toContain('SAMPLE: using the small embedded sample');
    const quiet = await cli([
      'knn',
      '--sample',
      '--test-size',
      '50',
      '--train-size',
      '1000',
      '--quiet',
      '--json',
    ]);
    expect(quiet.stderr).toBe('');
    expect(() => JSON.parse(quiet.stdout)).not.toThrow();
    // --quiet silences messages, not results.
    const results = await cli(['knn', '--sample', '--test-size', '50', '--train-size', '1000', '--quiet']);
    expect(results.stderr).toBe('');
    expect(results.stdout).toMatch(/^SAMPLE k-NN accuracy: /);
  });

  it('draws progress bars on a terminal only', async () => {
    const args = ['knn', '--sample', '--test-size', '60', '--train-size', '600'];
    const tty = await cli(args, undefined, true);
    expect(tty.stderr).toMatch(/\rk-NN \[#+\] 100% 60\/60/);
    expect(tty.stderr).toContain('\rdata: 6000 training + 1000 test images (sample)');
    const piped = await cli(args);
    expect(piped.stderr).not.toContain('\r');
    const quiet = await cli([...args, '--quiet'], undefined, true);
    expect(quiet.stderr).toBe('');
  });

  it('k larger than the training set is a user error', async () => {
    const r = await cli(['knn', '--sample', '--train-size', '3', '--k', '5', '--test-size', '5']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/'k' must be an integer <= 3/);
    expect(r.stderr).toContain('(BAD_OPTION: ');
  });
});

describe('the pretrained model', () => {
  it('evaluate without --model uses it when the package has it, and says how to get a model when not', async () => {
    const r = await cli(['evaluate', '--sample', '--test-size', '200', '--json', '--quiet']);
    if (existsSync(join(pretrainedModelDir(), 'model.json'))) {
      expect(r.code, r.stderr).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out.model).toBe('pretrained');
      expect(out.accuracy).toBeGreaterThan(0.85);
    } else {
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('The pretrained model is not in this installation');
      expect(r.stderr).toContain('fashion-mnist train --out my-model');
    }
  }, 300_000);

  it.each(['fashion-cnn', 'fashion-vgg-bn'])(
    '--model %s takes a shipped model by name (a directory of that name would win)',
    async (name) => {
      const r = await cli([
        'evaluate',
        '--sample',
        '--model',
        name,
        '--test-size',
        '100',
        '--json',
        '--quiet',
      ]);
      if (existsSync(join(pretrainedModelDir(name as PretrainedModelName), 'model.json'))) {
        expect(r.code, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out.model).toBe(name);
        expect(out.accuracy).toBeGreaterThan(0.8);
        // predict by name too: the first sample test image (a pair of trousers) as a 28×28 PNG.
        const { test } = await loadSample();
        const png = new pngjs.PNG({ width: 28, height: 28 });
        for (let p = 0; p < 784; p++) {
          const v = test.images[p];
          png.data.set([v, v, v, 255], p * 4);
        }
        const file = join(dir, `by-name-${name}.png`);
        writeFileSync(file, pngjs.PNG.sync.write(png));
        const p = await cli(['predict', '--model', name, '--json', '--quiet', file]);
        expect(p.code, p.stderr).toBe(0);
        expect(JSON.parse(p.stdout).images[0].top[0].index).toBe(test.labels[0]);
      } else {
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(`The pretrained model '${name}' is not in this installation`);
      }
    },
    300_000,
  );

  it('--model with an unknown name lists the shipped ones', async () => {
    const missing = await cli(['evaluate', '--sample', '--model', 'fashion-nope', '--test-size', '10']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('the name of a shipped model (fashion-cnn, fashion-vgg-bn)');
  });
});

describe('erase-preview', () => {
  it('writes a grid of originals and erased draws, reproducibly for a seed', async () => {
    const a = join(dir, 'a.png');
    const b = join(dir, 'b.png');
    const c = join(dir, 'c.png');
    const args = ['erase-preview', '--count', '5', '--draws', '2', '--scale', '2', '--json'];
    const ra = await cli([...args, '--out', a, '--seed', '3']);
    expect(ra.code).toBe(0);
    const info = JSON.parse(ra.stdout);
    expect(info.stats.images).toBe(10);
    expect(info.stats.erased).toBe(10); // p defaults to 1 in the preview
    await cli([...args, '--out', b, '--seed', '3']);
    await cli([...args, '--out', c, '--seed', '4']);
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    expect(readFileSync(a).equals(readFileSync(c))).toBe(false);
    const png = pngjs.PNG.sync.read(readFileSync(a));
    // 5 columns and 3 rows of 56-pixel images with 2 pixels of padding between and around.
    expect([png.width, png.height]).toEqual([5 * 56 + 6 * 2, 3 * 56 + 4 * 2]);
  });

  it('rejects impossible erasing options with the library message', async () => {
    const r = await cli(['erase-preview', '--s-l', '0.5', '--s-h', '0.2', '--out', join(dir, 'x.png')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/s_l/);
    expect(r.stderr).toContain('(BAD_OPTION: ');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });
});

describe('train, evaluate, predict and resume with a model trained here', () => {
  const model = () => join(dir, 'model');
  let trained: { accuracy: number; epochs: { epoch: number }[] };

  beforeAll(async () => {
    const r = await cli([
      'train',
      '--sample',
      '--backend',
      'wasm',
      '--epochs',
      '2',
      '--train-size',
      '3000',
      '--test-size',
      '200',
      '--seed',
      '7',
      '--out',
      model(),
      '--report',
      join(dir, 'train.html'),
      '--json',
    ]);
    if (r.code !== 0) throw new Error(`train failed (${r.code}): ${r.stderr}`);
    trained = JSON.parse(r.stdout);
  }, 300_000);

  it('train reports two epochs with validation, saves the model and writes a report with curves', () => {
    expect(trained.epochs.map((e) => e.epoch)).toEqual([0, 1]);
    expect(trained.accuracy).toBeGreaterThan(0.5);
    const html = readFileSync(join(dir, 'train.html'), 'utf8');
    expect(html).toContain('data-series="validation loss"');
    expect(html).toContain('data-series="train accuracy"');
    expect(JSON.parse(readFileSync(join(model(), 'model.json'), 'utf8')).userDefinedMetadata.epochsDone).toBe(
      2,
    );
  });

  it('evaluate on the same images gives the accuracy train reported', async () => {
    const r = await cli(['evaluate', '--sample', '--model', model(), '--test-size', '200', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).accuracy).toBe(trained.accuracy);
  });

  it('predict classifies PNG files (light-on-black and a large dark-on-white copy) the same way', async () => {
    const { test } = await loadSample();
    const files: string[] = [];
    for (const i of [0, 1]) {
      const px = test.images.subarray(i * 784, (i + 1) * 784);
      const small = new pngjs.PNG({ width: 28, height: 28 });
      const big = new pngjs.PNG({ width: 280, height: 280 });
      for (let p = 0; p < 784; p++) small.data.set([px[p], px[p], px[p], 255], p * 4);
      for (let y = 0; y < 280; y++)
        for (let x = 0; x < 280; x++) {
          const v = 255 - px[Math.floor(y / 10) * 28 + Math.floor(x / 10)];
          big.data.set([v, v, v, 255], (y * 280 + x) * 4);
        }
      files.push(join(dir, `img${i}.png`), join(dir, `img${i}-photo.png`));
      writeFileSync(files.at(-2) as string, pngjs.PNG.sync.write(small));
      writeFileSync(files.at(-1) as string, pngjs.PNG.sync.write(big));
    }
    const r = await cli(['predict', '--model', model(), '--json', ...files]);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.images.map((x: { inverted: boolean }) => x.inverted)).toEqual([false, true, false, true]);
    for (const img of out.images) {
      expect(img.top).toHaveLength(3);
      const sum = img.top.reduce((s: number, t: { probability: number }) => s + t.probability, 0);
      expect(sum).toBeLessThanOrEqual(1 + 1e-6);
      expect(CLASS_NAMES).toContain(img.top[0].className);
    }
    // The photo-like copy goes through trimming, resizing and negation and must land on the same class.
    expect(out.images[1].top[0].index).toBe(out.images[0].top[0].index);
    expect(out.images[3].top[0].index).toBe(out.images[2].top[0].index);

    const human = await cli(['predict', '--model', model(), files[0]]);
    expect(human.stdout).toMatch(
      /img0\.png {2}\(not inverted: dark background\)\n {2}1\. .+ +\d+\.\d %\n {2}2\. /,
    );
  });

  it('predict reads JPEG files too, recognised by their bytes whatever the name', async () => {
    const { test } = await loadSample();
    const px = test.images.subarray(0, 784);
    const rgba = new Uint8Array(112 * 112 * 4);
    for (let y = 0; y < 112; y++)
      for (let x = 0; x < 112; x++) {
        const v = 255 - px[Math.floor(y / 4) * 28 + Math.floor(x / 4)];
        rgba.set([v, v, v, 255], (y * 112 + x) * 4);
      }
    const file = join(dir, 'photo.png'); // a JPEG under a misleading name
    writeFileSync(file, jpeg.encode({ data: rgba, width: 112, height: 112 }, 95).data);
    const png = await cli(['predict', '--model', model(), '--json', join(dir, 'img0.png')]);
    const jpg = await cli(['predict', '--model', model(), '--json', file]);
    expect(jpg.code, jpg.stderr).toBe(0);
    const [a] = JSON.parse(png.stdout).images;
    const [b] = JSON.parse(jpg.stdout).images;
    expect(b.inverted).toBe(true);
    expect(b.top[0].index).toBe(a.top[0].index);
  });

  it('predict reports bad image files as user errors', async () => {
    const text = join(dir, 'notes.png');
    writeFileSync(text, 'this is not a picture');
    const truncated = join(dir, 'truncated.png');
    writeFileSync(truncated, readFileSync(join(dir, 'img0.png')).subarray(0, 60));
    for (const [file, message] of [
      [text, /notes\.png: not a PNG or JPEG image/],
      [truncated, /truncated\.png: damaged or unsupported PNG file/],
      [join(dir, 'missing.jpg'), /missing\.jpg: no such file/],
    ] as const) {
      const r = await cli(['predict', '--model', model(), file]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(STACK_LINE);
    }
  });

  it('an unreadable model directory is a user error', async () => {
    const broken = join(dir, 'broken-model');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'model.json'), '{ not json');
    for (const [m, message] of [
      [join(dir, 'no-such-model'), /no such model directory/],
      [broken, /model\.json/],
    ] as const) {
      const r = await cli(['evaluate', '--sample', '--model', m, '--test-size', '10']);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(STACK_LINE);
    }
  });

  it('shows epoch, batch, loss, accuracy, images/s and time left while training on a terminal', async () => {
    const r = await cli(
      [
        'train',
        '--sample',
        '--epochs',
        '1',
        '--train-size',
        '640',
        '--batch-size',
        '64',
        '--test-size',
        '20',
        '--backend',
        'wasm',
        '--out',
        join(dir, 'tty-model'),
      ],
      undefined,
      true,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /\repoch 1\/1 \[#+-*\] +\d+% \d+\/9 +ETA \d+:\d\d +loss \d\.\d{3} +acc \d\.\d{3} +img\/s \d+ +run \d+:\d\d left/,
    );
    expect(r.stderr).toMatch(
      /epoch 1\/1 {2}loss \d\.\d{4} {2}acc \d\.\d{4} {2}val_loss \d\.\d{4} {2}val_acc \d\.\d{4}/,
    );
  }, 300_000);

  async function tensorsLeftBy(args: string[]): Promise<number> {
    await cli(args); // the first run may initialise the backend and cache kernels
    const before = tf.memory().numTensors;
    const r = await cli(args);
    expect(r.code, r.stderr).toBe(0);
    return tf.memory().numTensors - before;
  }

  it('knn, evaluate and predict leave no tensors behind', async () => {
    const img = join(dir, 'img0.png');
    for (const args of [
      ['knn', '--sample', '--test-size', '20', '--train-size', '500', '--backend', 'wasm', '--quiet'],
      ['evaluate', '--sample', '--model', model(), '--test-size', '50', '--backend', 'wasm', '--quiet'],
      ['predict', '--model', model(), img, '--backend', 'wasm', '--quiet'],
    ]) {
      expect(await tensorsLeftBy(args), args[0]).toBe(0);
    }
  }, 300_000);

  // Training checkpoints with the optimizer state every epoch (saveModel with includeOptimizer), so this also
  // catches a tensor left behind by saving.
  it('train leaves no tensors behind', async () => {
    const args = ['train', '--sample', '--epochs', '1', '--train-size', '128', '--test-size', '20'];
    expect(
      await tensorsLeftBy([...args, '--backend', 'wasm', '--quiet', '--out', join(dir, 'leak-model')]),
    ).toBe(0);
  }, 300_000);

  it('--resume continues after the saved epochs', async () => {
    const r = await cli([
      'train',
      '--sample',
      '--backend',
      'wasm',
      '--resume',
      model(),
      '--epochs',
      '3',
      '--train-size',
      '3000',
      '--test-size',
      '100',
      '--seed',
      '7',
      '--json',
    ]);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.epochs.map((e: { epoch: number }) => e.epoch)).toEqual([2]);
    expect(JSON.parse(readFileSync(join(model(), 'model.json'), 'utf8')).userDefinedMetadata.epochsDone).toBe(
      3,
    );
    const again = await cli(['train', '--sample', '--resume', model(), '--epochs', '3']);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/--epochs must be more than the 3 epochs/);
    expect(again.stderr).toContain('(BAD_OPTION: ');
  }, 300_000);
});
