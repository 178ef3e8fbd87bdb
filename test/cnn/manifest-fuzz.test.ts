// Issue 11: a seeded fuzz test of the model-manifest checks. Thousands of mutated model.json texts go through
// checkModelJson (every failure must be a FashionMnistError), and a few hundred mutated model folders through the
// whole loadModel (every failure a FashionMnistError, and no tensor left behind by any of them).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCnn } from '../../src/cnn/build.js';
import { loadModel, saveModel } from '../../src/cnn/io-node.js';
import { checkModelJson } from '../../src/cnn/weights.js';
import { FashionMnistError } from '../../src/errors.js';
import { useBackend } from '../helpers/backends.js';
import { mulberry32 } from '../helpers/rng.js';

const root = mkdtempSync(join(tmpdir(), 'fmnist-manifest-fuzz-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let text = '';
let shard: Buffer;
beforeAll(async () => {
  await useBackend('cpu');
  const m = buildCnn({ seed: 1, filters: [2, 2], denseUnits: 4 });
  const { dir } = await saveModel(m, join(root, 'good'), { quantize: 'uint8' });
  m.dispose();
  text = readFileSync(join(dir, 'model.json'), 'utf8');
  shard = readFileSync(join(dir, 'group1-shard1of1.bin'));
});

const NASTY: unknown[] = [
  null,
  -1,
  0,
  1.5,
  2 ** 53,
  1e308,
  '',
  '..',
  '../x.bin',
  '/etc/passwd',
  'C:\\x',
  '%2e%2e',
  'float99',
  'uint8',
  [],
  [-1],
  [1e9, 1e9],
  {},
  { dtype: 'uint8' },
  true,
  'NoSuchLayer',
];

/** A mutated copy of `json`: one value somewhere replaced, a key deleted, or an array emptied/grown. */
function mutate(json: unknown, rand: () => number): unknown {
  const copy = structuredClone(json) as Record<string, unknown>;
  // Walk down a random path, then change what is there.
  let node: Record<string, unknown> | unknown[] = copy;
  for (let depth = 0; depth < 12; depth++) {
    const keys = Object.keys(node);
    if (keys.length === 0) break;
    const key = keys[Math.floor(rand() * keys.length)];
    const child = (node as Record<string, unknown>)[key];
    const stop = rand() < 0.25 || typeof child !== 'object' || child === null;
    if (stop) {
      const r = rand();
      if (r < 0.15 && !Array.isArray(node)) delete (node as Record<string, unknown>)[key];
      else if (r < 0.25 && Array.isArray(child)) child.push(structuredClone(child[0] ?? 1));
      else (node as Record<string, unknown>)[key] = structuredClone(NASTY[Math.floor(rand() * NASTY.length)]);
      return copy;
    }
    node = child as Record<string, unknown>;
  }
  return copy;
}

/** Text-level damage: a truncation or a changed character. */
function damageText(s: string, rand: () => number): string {
  const at = Math.floor(rand() * s.length);
  return rand() < 0.5
    ? s.slice(0, at)
    : s.slice(0, at) + String.fromCharCode((32 + rand() * 95) | 0) + s.slice(at + 1);
}

describe('model manifest fuzzing', () => {
  it('checkModelJson: 4,000 mutated model.json texts, every failure a FashionMnistError', () => {
    const rand = mulberry32(20251202);
    const json = JSON.parse(text);
    let refused = 0;
    for (let i = 0; i < 4000; i++) {
      const input = i % 4 === 3 ? damageText(text, rand) : JSON.stringify(mutate(json, rand));
      try {
        checkModelJson(input, 'fuzz', 'model.json');
      } catch (e) {
        if (!(e instanceof FashionMnistError)) throw new Error(`case ${i}: ${e}\n${input.slice(0, 400)}`);
        refused++;
      }
    }
    // The mutations do hit the checks (a test that cannot fail is a defect).
    expect(refused).toBeGreaterThan(1000);
  });

  it('loadModel: 300 mutated model folders, every failure a FashionMnistError, no tensor left', async () => {
    const rand = mulberry32(7);
    const json = JSON.parse(text);
    const before = tf.memory().numTensors;
    let loaded = 0;
    for (let i = 0; i < 300; i++) {
      const dir = join(root, `case${i}`);
      mkdirSync(dir);
      writeFileSync(join(dir, 'model.json'), JSON.stringify(mutate(json, rand)));
      writeFileSync(join(dir, 'group1-shard1of1.bin'), shard);
      const n0 = tf.memory().numTensors;
      let what = 'ok';
      try {
        (await loadModel(dir)).dispose();
        loaded++;
      } catch (e) {
        if (!(e instanceof FashionMnistError)) {
          throw new Error(
            `case ${i}: ${(e as Error).stack}\n${readFileSync(join(dir, 'model.json'), 'utf8')}`,
          );
        }
        what = (e as Error).message;
      }
      const left = tf.memory().numTensors - n0;
      if (left !== 0) {
        throw new Error(
          `case ${i} left ${left} tensors (${what}):\n${readFileSync(join(dir, 'model.json'), 'utf8')}`,
        );
      }
      rmSync(dir, { recursive: true });
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(loaded).toBeGreaterThan(0); // some mutations are harmless (a name, a metadata value)
    expect(loaded).toBeLessThan(300);
  });
});
