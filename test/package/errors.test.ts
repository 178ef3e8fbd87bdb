// One error class (issue: errors are inconsistent): nothing in src/ throws a plain Error, TypeError or
// RangeError for a problem the library detects; every such problem is a FashionMnistError with a code from
// the documented table.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, FashionMnistError } from '../../src/errors.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

describe('errors', () => {
  it('no source file constructs a plain Error, TypeError or RangeError', () => {
    const offenders: string[] = [];
    for (const file of sources('src')) {
      readFileSync(file, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (/\bnew (Error|TypeError|RangeError)\(/.test(line))
            offenders.push(`${file}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });

  it('every code used in src/ is in the documented table', () => {
    const used = new Set<string>();
    for (const file of sources('src')) {
      for (const m of readFileSync(file, 'utf8').matchAll(/FashionMnistError\(\s*'([A-Z_]+)'/g))
        used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(10);
    for (const code of used) expect(Object.keys(ERROR_CODES)).toContain(code);
  });

  it('carries code, path and cause', () => {
    const cause = new Error('EACCES');
    const e = new FashionMnistError('IO_ERROR', 'cannot read', { path: '/x', cause });
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'FashionMnistError', code: 'IO_ERROR', path: '/x', cause });
  });
});
