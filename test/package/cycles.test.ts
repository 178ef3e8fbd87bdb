// scripts/check-cycles.ts (run by `npm run lint`): finds import cycles the way tsc resolves imports.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCycles, findCycles } from '../../scripts/check-cycles.js';

let dir: string;
const name = (f: string) => f.slice(dir.length + 1);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'fmnist-cycles-'));
  // base.ts needs a type of sub.ts, which extends base.ts: the k-NN estimator/classifier shape of 0.1.0.
  writeFileSync(
    join(dir, 'base.ts'),
    "import type { Sub } from './sub.js';\nexport class Base { s?: Sub }\n",
  );
  writeFileSync(join(dir, 'sub.ts'), "import { Base } from './base.js';\nexport class Sub extends Base {}\n");
  writeFileSync(join(dir, 'leaf.ts'), "export * from './base.js';\nimport 'node:fs';\n");
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('check-cycles', () => {
  it('finds a cycle through a type-only import', () => {
    const cycles = checkCycles(dir, false).map((c) => c.map(name));
    expect(cycles).toEqual([['base.ts', 'sub.ts', 'base.ts']]);
  });

  it('with --runtime, ignores type-only imports', () => {
    expect(checkCycles(dir, true)).toEqual([]);
  });

  it('reports one shortest cycle per strongly connected component, and self-imports', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c', 'a']],
      ['c', ['a']],
      ['d', ['d']],
      ['e', ['a']],
    ]);
    expect(findCycles(graph).sort()).toEqual([
      ['a', 'b', 'a'],
      ['d', 'd'],
    ]);
  });
});
