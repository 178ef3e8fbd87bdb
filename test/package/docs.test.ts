// House rule: every export of the public entries has a doc comment with an @example. TypeDoc's validation
// (typedoc.json) checks that a comment exists; this test also checks for the example, and names every offender.
import { resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ENTRIES = ['src/index.ts', 'src/node.ts', 'src/wasm-training.ts'];

function undocumented(): string[] {
  const program = ts.createProgram(
    ENTRIES.map((e) => resolve(e)),
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
  for (const entry of ENTRIES) {
    const file = program.getSourceFile(resolve(entry));
    const module = file && checker.getSymbolAtLocation(file);
    if (!module) throw new Error(`cannot read ${entry}`);
    for (const exported of checker.getExportsOfModule(module)) {
      const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
      const hasExample = symbol.getJsDocTags(checker).some((t) => t.name === 'example');
      if (!text || !hasExample) {
        const where =
          symbol.declarations?.[0]?.getSourceFile().fileName.replace(`${resolve('.')}/`, '') ?? '?';
        missing.add(`${exported.getName()} (${where}: ${text ? 'no @example' : 'no doc comment'})`);
      }
    }
  }
  return [...missing].sort();
}

describe('API documentation', () => {
  it('every export of the root and /node entries has a doc comment with an @example', () => {
    const missing = undocumented();
    expect(missing, `undocumented exports:\n  ${missing.join('\n  ')}`).toEqual([]);
  }, 60_000);
});
