// The error-code table of docs/reliability.md, generated from ERROR_CODES (src/errors.ts) so the two never
// disagree: docs-reliability.test.ts compares them, and
//   npx tsx test/package/error-table.ts --write
// rewrites the table between the markers in docs/reliability.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { ERROR_CODES } from '../../src/errors.js';

export const START = '<!-- error codes: generated from ERROR_CODES in src/errors.ts; do not edit by hand -->';
export const END = '<!-- end of error codes -->';

const cell = (s: string) => s.replace(/\|/g, '\\|');

export function errorTable(): string {
  const rows = Object.entries(ERROR_CODES).map(
    ([code, { meaning, todo }]) => `| \`${code}\` | ${cell(meaning)} | ${cell(todo)} |`,
  );
  return ['| code | meaning | what to do |', '| --- | --- | --- |', ...rows].join('\n');
}

/** The table as docs/reliability.md has it now, or null when the markers are missing. */
export function documentedTable(markdown: string): string | null {
  const a = markdown.indexOf(START);
  const b = markdown.indexOf(END);
  if (a < 0 || b < a) return null;
  return markdown.slice(a + START.length, b).trim();
}

if (process.argv.includes('--write')) {
  const file = 'docs/reliability.md';
  const md = readFileSync(file, 'utf8');
  const a = md.indexOf(START);
  const b = md.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${file}: markers not found`);
  writeFileSync(file, `${md.slice(0, a + START.length)}\n${errorTable()}\n${md.slice(b)}`);
  console.log(`${file}: error table rewritten (${Object.keys(ERROR_CODES).length} codes)`);
}
