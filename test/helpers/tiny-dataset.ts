// A tiny IDX data set built by the tests themselves, with its own catalogue, for loader tests that must not
// depend on the 30 MB real files.
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { DatasetFile, DatasetSpec } from '../../src/data/catalog.js';
import { encodeIdx } from '../../src/data/idx.js';

export interface TinyDataset {
  spec: DatasetSpec;
  /** Compressed bytes of each file, by name. */
  gz: Map<string, Uint8Array>;
  /** Uncompressed bytes of each file, by name. */
  raw: Map<string, Uint8Array>;
  train: { images: Uint8Array; labels: Uint8Array };
  test: { images: Uint8Array; labels: Uint8Array };
}

export function makeTinyDataset(nTrain = 5, nTest = 3, id = 'tiny'): TinyDataset {
  const px = 28 * 28;
  const mk = (n: number, salt: number) => ({
    images: Uint8Array.from({ length: n * px }, (_, i) => (i * 7 + salt * 13) % 256),
    labels: Uint8Array.from({ length: n }, (_, i) => (i + salt) % 10),
  });
  const train = mk(nTrain, 1);
  const test = mk(nTest, 2);
  const gz = new Map<string, Uint8Array>();
  const raw = new Map<string, Uint8Array>();
  const files: DatasetFile[] = [];
  const add = (
    role: 'images' | 'labels',
    split: 'train' | 'test',
    name: string,
    bytes: Uint8Array,
    count: number,
  ) => {
    raw.set(name, bytes);
    gz.set(name, gzipSync(bytes));
    files.push({
      role,
      split,
      name,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      bytes: bytes.length,
      count,
    });
  };
  add(
    'images',
    'train',
    'train-images-idx3-ubyte.gz',
    encodeIdx({ dtype: 'uint8', shape: [nTrain, 28, 28], data: train.images }),
    nTrain,
  );
  add(
    'labels',
    'train',
    'train-labels-idx1-ubyte.gz',
    encodeIdx({ dtype: 'uint8', shape: [nTrain], data: train.labels }),
    nTrain,
  );
  add(
    'images',
    'test',
    't10k-images-idx3-ubyte.gz',
    encodeIdx({ dtype: 'uint8', shape: [nTest, 28, 28], data: test.images }),
    nTest,
  );
  add(
    'labels',
    'test',
    't10k-labels-idx1-ubyte.gz',
    encodeIdx({ dtype: 'uint8', shape: [nTest], data: test.labels }),
    nTest,
  );
  return { spec: { id, mirrors: [], files }, gz, raw, train, test };
}

/** Writes the data set's files into a new temporary directory (gzip unless `compressed` is false). */
export function writeTinyDataset(ds: TinyDataset, compressed = true): string {
  const dir = mkdtempSync(join(tmpdir(), 'fmnist-tiny-'));
  for (const f of ds.spec.files) {
    if (compressed) writeFileSync(join(dir, f.name), ds.gz.get(f.name)!);
    else writeFileSync(join(dir, f.name.replace(/\.gz$/, '')), ds.raw.get(f.name)!);
  }
  return dir;
}
