// The CLI in scripts and pipelines: exit codes that separate bugs from user mistakes, JSON errors, output paths
// checked before the work, results kept when a write fails afterwards, a line per step on a pipe, and limits on
// what `predict` decodes.
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32, createDeflate } from 'node:zlib';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeImage } from '../../src/cli/image.js';
import { runCli } from '../../src/cli/program.js';
import { FASHION_MNIST } from '../../src/data/catalog.js';
import { loadSample } from '../../src/data/node.js';
import { ERROR_CODES } from '../../src/errors.js';
import { decodePng, encodePng } from '../../src/report/png.js';
import { cli, STACK_LINE } from './run.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fmnist-cli-scripts-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HAS_DEV_FULL = existsSync('/dev/full');

/** Parses stdout as the one JSON object it must be. */
function json(stdout: string) {
  return JSON.parse(stdout);
}

describe('exit codes: a bug is not a user mistake', () => {
  it('an internal error in a command (a TypeError) exits 1 with its stack and asks to report it', async () => {
    let stdout = '';
    let stderr = '';
    let writes = 0;
    const code = await runCli(['data', '--sample', '--json'], {
      // The command's first write fails the way a bug would ("x is not a function"); later writes work.
      stdout: {
        write: (s: string) => {
          if (writes++ === 0) throw new TypeError('out.json is not a function');
          stdout += s;
        },
      },
      stderr: { write: (s: string) => (stderr += s) },
    });
    expect(code).toBe(1);
    expect(stderr).toContain('unexpected error; please report it');
    expect(stderr).toContain('TypeError: out.json is not a function');
    expect(stderr).toMatch(STACK_LINE);
    expect(json(stdout).error).toEqual({ code: 'UNEXPECTED', message: 'out.json is not a function' });
  });

  it('a FashionMnistError is one line with its message and what to do, exit 2', async () => {
    const r = await cli(['evaluate', '--model', join(dir, 'no-model'), '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('no such model directory');
    expect(r.stderr).toContain(`(BAD_MODEL: ${ERROR_CODES.BAD_MODEL.todo})`);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('usage errors found by commander still exit 2, with a JSON error under --json', async () => {
    const r = await cli(['knn', '--colour', '--json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--colour'");
    expect(json(r.stdout).error.code).toBe('BAD_OPTION');
  });

  it('--json failures print { error: { code, message } } on stdout with the same exit code', async () => {
    const r = await cli(['evaluate', '--model', '/nonexistent', '--json']);
    expect(r.code).toBe(2);
    const out = json(r.stdout);
    expect(out.error.code).toBe('BAD_MODEL');
    expect(out.error.message).toContain('/nonexistent: no such model directory');
  });
});

describe('output paths are checked before the work, and typed', () => {
  const file = () => {
    const f = join(dir, 'a-file');
    writeFileSync(f, 'x');
    return f;
  };

  it.each([
    ['knn --report <a directory>', () => ['knn', '--sample', '--workers', '1', '--report', dir]],
    [
      'knn --report <under a file>',
      () => ['knn', '--sample', '--workers', '1', '--report', join(file(), 'r.html')],
    ],
    ['evaluate --report <a directory>', () => ['evaluate', '--sample', '--report', dir]],
    ['erase-preview --out <a directory>', () => ['erase-preview', '--out', dir]],
    ['predict --save-preprocessed <a file>', () => ['predict', '--save-preprocessed', file(), 'x.png']],
    ['train --out <under a file>', () => ['train', '--sample', '--out', join(file(), 'model')]],
    ['train --output-dir <under a file>', () => ['train', '--sample', '--output-dir', join(file(), 'model')]],
    ['train --report <a directory>', () => ['train', '--sample', '--out', join(dir, 'm'), '--report', dir]],
  ])('%s: exit 2, IO_ERROR, before any work', async (_, args) => {
    const r = await cli([...args(), '--json']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(r.stderr).not.toMatch(/epoch|k-NN|data:/); // nothing was loaded, searched or trained
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(json(r.stdout).error.code).toBe('IO_ERROR');
  });

  it('data --data-dir with a directory in a .gz file’s place: exit 2, IO_ERROR, no stack', async () => {
    const data = join(dir, 'gz-is-dir');
    mkdirSync(data, { recursive: true });
    const installed = '/usr/share/datasets/fashion-mnist';
    for (const f of FASHION_MNIST.files) {
      const target = join(data, f.name);
      if (f.name.startsWith('t10k-labels')) mkdirSync(target, { recursive: true });
      else if (existsSync(join(installed, f.name))) symlinkSync(join(installed, f.name), target);
      else writeFileSync(target, '');
    }
    const r = await cli(['data', '--data-dir', data, '--no-download', '--json']);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(json(r.stdout).error.code).toBe('IO_ERROR');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it.skipIf(!HAS_DEV_FULL)(
    'a write that fails after the work still prints the result, then exits 2',
    async () => {
      // /dev/full passes every check (a writable file in a writable directory) and fails every write (ENOSPC).
      const knn = await cli([
        'knn',
        '--sample',
        '--workers',
        '1',
        '--test-size',
        '40',
        '--train-size',
        '500',
        '--report',
        '/dev/full',
        '--json',
      ]);
      expect(knn.code).toBe(2);
      const out = json(knn.stdout);
      expect(out.accuracy).toBeGreaterThan(0.5);
      expect(out.error.code).toBe('IO_ERROR');
      expect(out.error.message).toContain('ENOSPC');
      expect(knn.stderr).toMatch(
        /fashion-mnist: writing the file \(\/dev\/full\): no space left on the device \(ENOSPC/,
      );
      expect(knn.stderr).not.toMatch(STACK_LINE);

      const text = await cli(['erase-preview', '--count', '3', '--draws', '1', '--out', '/dev/full']);
      expect(text.code).toBe(2);
      expect(text.stdout).toMatch(/^erased 3 of 3 images/);
      expect(text.stderr).toContain('IO_ERROR');
    },
  );
});

describe('one line per step on a pipe', () => {
  it('knn prints its phases on a non-terminal stderr, and nothing with --quiet', async () => {
    const args = ['knn', '--sample', '--test-size', '30', '--train-size', '300', '--workers', '1'];
    const piped = await cli(args);
    expect(piped.code).toBe(0);
    const lines = piped.stderr.trim().split('\n');
    expect(lines).toContain('data: 6000 training + 1000 test images (sample)');
    expect(lines.some((l) => l.startsWith('k-NN: fitted 300 training images'))).toBe(true);
    expect(lines.some((l) => /^k-NN: 30 test images in \d+\.\d s$/.test(l))).toBe(true);
    expect(piped.stderr).not.toContain('\r');
    expect((await cli([...args, '--quiet'])).stderr).toBe('');
  });
});

describe('knn --workers', () => {
  it('two workers give the same results as one', async () => {
    const args = ['knn', '--sample', '--test-size', '120', '--train-size', '2000', '--json', '--quiet'];
    const one = await cli([...args, '--workers', '1', '--backend', 'wasm']);
    const two = await cli([...args, '--workers', '2', '--backend', 'wasm']);
    expect(one.code, one.stderr).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    const [a, b] = [json(one.stdout), json(two.stdout)];
    expect([a.workers, b.workers]).toEqual([1, 2]);
    expect(b.confusion).toEqual(a.confusion);
    expect(b.correct).toBe(a.correct);
  }, 300_000);

  it('rejects a bad count', async () => {
    const r = await cli(['knn', '--workers', '0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--workers must be an integer from 1 to 64, received '0'");
  });
});

describe('options only where they act, and torchvision’s names', () => {
  it.each(['data', 'erase-preview'])('%s has no --backend', async (c) => {
    expect((await cli([c, '--help'])).stdout).not.toContain('--backend');
    const r = await cli([c, '--backend', 'cpu']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--backend'");
  });

  it('--data-path is --data-dir', async () => {
    const empty = join(dir, 'empty-data');
    mkdirSync(empty, { recursive: true });
    const r = await cli(['data', '--data-path', empty, '--no-download']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`Fashion-MNIST files missing in ${empty}`);
  });

  it('--lr-scheduler, --random-erase and -b are checked like the options they stand for', async () => {
    for (const [args, message] of [
      [['train', '--lr-scheduler', 'onecycle'], /--lr-scheduler must be one of .*steplr, cosineannealinglr/],
      [['train', '--random-erase', '2'], /--random-erase must be a number from 0 to 1, received '2'/],
      [['train', '-b', '0'], /--batch-size must be an integer >= 1, received '0'/],
    ] as const) {
      const r = await cli([...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});

describe('predict tries every file', () => {
  it('reports each file’s result or error, then exits 2', async () => {
    const { test } = await loadSample();
    const good = join(dir, 'good.png');
    writeFileSync(good, encodePng({ data: test.images.slice(0, 784), width: 28, height: 28, channels: 1 }));
    const text = join(dir, 'text.png');
    writeFileSync(text, 'not a picture');
    const files = [good, text, join(dir, 'missing.png'), good];
    const r = await cli(['predict', ...files, '--json']);
    expect(r.code).toBe(2);
    const out = json(r.stdout);
    expect(out.failed).toBe(2);
    expect(out.images.map((x: { file: string }) => x.file)).toEqual(files);
    expect(out.images[0].top).toHaveLength(3);
    expect(out.images[3].top).toEqual(out.images[0].top);
    expect(out.images[1].error.code).toBe('BAD_INPUT');
    expect(out.images[2].error.code).toBe('NOT_FOUND');
    expect(r.stderr).toContain('2 of 4 images could not be used');
    expect(r.stderr).not.toMatch(STACK_LINE);

    const human = await cli(['predict', good, text]);
    expect(human.code).toBe(2);
    expect(human.stdout).toMatch(/good\.png {2}\(not inverted: dark background\)\n {2}1\. /);
    expect(human.stderr).toContain('text.png: not a PNG or JPEG image');
  }, 60_000);

  it('a data-set image written as PNG reaches the model byte for byte', async () => {
    const { test } = await loadSample();
    const saved = join(dir, 'preprocessed');
    const files: string[] = [];
    for (let i = 0; i < 10; i++) {
      files.push(join(dir, `ds${i}.png`));
      const pixels = test.images.slice(i * 784, (i + 1) * 784);
      writeFileSync(files[i], encodePng({ data: pixels, width: 28, height: 28, channels: 1 }));
    }
    const r = await cli(['predict', ...files, '--save-preprocessed', saved, '--json']);
    expect(r.code, r.stderr).toBe(0);
    for (let i = 0; i < 10; i++) {
      const back = decodePng(readFileSync(join(saved, `ds${i}.28x28.png`)));
      const gray = Uint8Array.from({ length: 784 }, (_, p) => back.data[p * 4]);
      expect(Buffer.from(gray).equals(Buffer.from(test.images.subarray(i * 784, (i + 1) * 784)))).toBe(true);
    }
  }, 60_000);
});

/** A valid PNG of `size × size` gray pixels, all black: tiny on disk, huge once decoded. */
async function pngBomb(size: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on('data', (c: Buffer) => parts.push(c));
  const ended = once(deflate, 'end');
  const zeros = Buffer.alloc(1 << 20);
  // Every row is a filter byte 0 and `size` zero pixels: all zeros.
  for (let left = (size + 1) * size; left > 0; left -= zeros.length) {
    if (!deflate.write(left >= zeros.length ? zeros : zeros.subarray(0, left))) await once(deflate, 'drain');
  }
  deflate.end();
  await ended;
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // 8-bit gray
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.concat(parts)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('failures leave no tensors behind', () => {
  it.skipIf(!HAS_DEV_FULL)(
    'predict with a bad file, and knn / evaluate whose report cannot be written',
    async () => {
      const { test } = await loadSample();
      const good = join(dir, 'leak-good.png');
      writeFileSync(good, encodePng({ data: test.images.slice(0, 784), width: 28, height: 28, channels: 1 }));
      const bad = join(dir, 'leak-bad.png');
      writeFileSync(bad, 'not a picture');
      for (const args of [
        ['predict', good, bad, '--backend', 'wasm', '--quiet'],
        [
          'knn',
          '--sample',
          '--workers',
          '1',
          '--test-size',
          '20',
          '--train-size',
          '300',
          '--backend',
          'wasm',
        ],
        ['evaluate', '--sample', '--test-size', '20', '--backend', 'wasm'],
      ]) {
        const run = args[0] === 'predict' ? args : [...args, '--quiet', '--report', '/dev/full'];
        await cli(run); // the first run may initialise the backend and cache kernels
        const before = tf.memory().numTensors;
        const r = await cli(run);
        expect(r.code, r.stderr).toBe(2);
        expect(tf.memory().numTensors - before, args[0]).toBe(0);
      }
    },
    300_000,
  );
});

describe('image size limits', () => {
  it('a PNG bomb (20000×20000) fails with TOO_LARGE in under 2 s and 300 MB of extra memory', async () => {
    const bomb = join(dir, 'bomb.png');
    writeFileSync(bomb, await pngBomb(20_000));
    // In a child process, so that its peak memory is its own.
    const script = join(dir, 'bomb.mts');
    writeFileSync(
      script,
      `const { runCli } = await import(${JSON.stringify(pathToFileURL(resolve('src/cli/program.ts')).href)});
const before = process.resourceUsage().maxRSS;
let out = '';
let err = '';
const t0 = performance.now();
const code = await runCli(['predict', ${JSON.stringify(bomb)}, '--json'], {
  stdout: { write: (s) => (out += s) },
  stderr: { write: (s) => (err += s) },
});
const seconds = (performance.now() - t0) / 1000;
const extraMB = (process.resourceUsage().maxRSS - before) / 1024;
console.log(JSON.stringify({ code, seconds, extraMB, out, err }));
`,
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout.trim().split('\n').at(-1) as string);
    expect(got.code).toBe(2);
    expect(JSON.parse(got.out).images[0].error.code).toBe('TOO_LARGE');
    expect(got.err).toMatch(/20000×20000 \(400\.0 megapixels\), more than the 50 megapixels allowed/);
    expect(got.seconds).toBeLessThan(2);
    expect(got.extraMB).toBeLessThan(300);
  }, 180_000);

  it('a JPEG whose header declares too many pixels is TOO_LARGE before decoding', () => {
    // SOI, then a baseline frame header (SOF0) declaring 60000×60000 pixels, 3 components.
    const bytes = Uint8Array.from([
      0xff, 0xd8, 0xff, 0xc0, 0x00, 0x11, 0x08, 0xea, 0x60, 0xea, 0x60, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11,
      1,
    ]);
    expect(() => decodeImage(bytes, 'huge.jpg')).toThrow(expect.objectContaining({ code: 'TOO_LARGE' }));
  });
});
