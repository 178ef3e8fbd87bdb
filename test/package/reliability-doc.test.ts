// docs/reliability.md lists every error code of ERROR_CODES with what to do, exactly as src/errors.ts has it.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/errors.js';
import { documentedTable, END, errorTable, START } from './error-table.js';

const doc = readFileSync('docs/reliability.md', 'utf8');

describe('docs/reliability.md', () => {
  it('has the error-code table generated from ERROR_CODES (npx tsx test/package/error-table.ts --write)', () => {
    expect(documentedTable(doc)).toBe(errorTable());
  });

  it('names every code', () => {
    const missing = Object.keys(ERROR_CODES).filter((code) => !doc.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('the comparison notices a stale table and missing markers', () => {
    const stale = errorTable()
      .split('\n')
      .filter((l) => !l.includes('`TIMEOUT`'))
      .join('\n');
    expect(documentedTable(`${START}\n${stale}\n${END}`)).not.toBe(errorTable());
    expect(documentedTable('no markers here')).toBeNull();
  });
});
