// House rule: every export of every public entry has a doc comment (TypeDoc's validation in typedoc.json checks
// the same for the generated reference). Worked examples live in the docs, where the test suite runs them
// (snippets.test.ts); an @example in a doc comment is welcome but not required. This test names every offender.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/** The public entries and their sources, from tsconfig.json "paths" (the same map as package.json "exports"). */
const PATHS: Record<string, string[]> = JSON.parse(readFileSync('tsconfig.json', 'utf8')).compilerOptions
  .paths;
const ENTRIES = Object.fromEntries(Object.entries(PATHS).map(([name, [file]]) => [name, file]));

function undocumented(entries: Record<string, string>): string[] {
  const program = ts.createProgram(
    Object.values(entries).map((e) => resolve(e)),
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      skipLibCheck: true,
      noEmit: true,
      types: ['node'],
    },
  );
  const checker = program.getTypeChecker();
  const missing = new Set<string>();
  for (const [name, entry] of Object.entries(entries)) {
    const file = program.getSourceFile(resolve(entry));
    const module = file && checker.getSymbolAtLocation(file);
    if (!module) throw new Error(`cannot read ${entry}`);
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
      if (!text) {
        const where =
          symbol.declarations?.[0]?.getSourceFile().fileName.replace(`${resolve('.')}/`, '') ?? '?';
        missing.add(`${name}: ${exported.getName()} (${where})`);
      }
    }
  }
  return [...missing].sort();
}

describe('API documentation', () => {
  it('covers every entry of package.json "exports"', () => {
    const exportsField = JSON.parse(readFileSync('package.json', 'utf8')).exports as Record<string, unknown>;
    const names = Object.keys(exportsField)
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? 'fashion-mnist-tfjs' : `fashion-mnist-tfjs/${k.slice(2)}`));
    expect(Object.keys(ENTRIES).sort()).toEqual(names.sort());
  });

  it('every export of every entry has a doc comment', () => {
    const missing = undocumented(ENTRIES);
    expect(missing, `undocumented exports:\n  ${missing.join('\n  ')}`).toEqual([]);
  }, 120_000);

  it('the check finds an export without a doc comment', () => {
    // A file of the test suite that exports an undocumented helper proves the check can fail.
    expect(undocumented({ probe: 'test/package/snippets.ts' })).toContain(
      'probe: RUN_LANGUAGES (test/package/snippets.ts)',
    );
  }, 120_000);
});
