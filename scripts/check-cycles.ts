// Import cycles in src/ (run by `npm run lint`): prints each cycle and exits 1, or says there are none.
// Every relative import and re-export counts, type-only ones included (a base class importing its subclass's
// types is the design smell this guards against); `--runtime` counts only the imports that survive compilation.
// It uses the TypeScript compiler's own parser and module resolution, so `.js` specifiers that name `.ts` files
// resolve as tsc resolves them.
//
//   npx tsx scripts/check-cycles.ts [--runtime] [dir]      (default dir: src)
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** Resolved local imports of one source file. */
export function importsOf(file: string, text: string, runtimeOnly: boolean): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const specifiers: string[] = [];
  for (const node of source.statements) {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const typeOnly =
        clause?.isTypeOnly ||
        (clause !== undefined &&
          !clause.name &&
          clause.namedBindings !== undefined &&
          ts.isNamedImports(clause.namedBindings) &&
          clause.namedBindings.elements.length > 0 &&
          clause.namedBindings.elements.every((e) => e.isTypeOnly));
      if (runtimeOnly && typeOnly) continue;
      specifiers.push((node.moduleSpecifier as ts.StringLiteral).text);
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const typeOnly =
        node.isTypeOnly ||
        (node.exportClause !== undefined &&
          ts.isNamedExports(node.exportClause) &&
          node.exportClause.elements.length > 0 &&
          node.exportClause.elements.every((e) => e.isTypeOnly));
      if (runtimeOnly && typeOnly) continue;
      specifiers.push((node.moduleSpecifier as ts.StringLiteral).text);
    }
  }
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  };
  const out: string[] = [];
  for (const spec of specifiers) {
    if (!spec.startsWith('.')) continue;
    const resolved = ts.resolveModuleName(spec, file, options, ts.sys).resolvedModule;
    if (resolved && !resolved.isExternalLibraryImport) out.push(resolve(resolved.resolvedFileName));
  }
  return out;
}

/** Every elementary cycle's representative: for each strongly connected component, one shortest cycle. */
export function findCycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's strongly connected components.
  let index = 0;
  const indices = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    indices.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indices.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, indices.get(w)!));
      }
    }
    if (low.get(v) === indices.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      const selfLoop = (graph.get(v) ?? []).includes(v);
      if (component.length > 1 || selfLoop) components.push(component);
    }
  };
  for (const v of graph.keys()) if (!indices.has(v)) visit(v);
  // One shortest cycle through the first (sorted) member of each component, by breadth-first search.
  return components.map((component) => {
    const members = new Set(component);
    const start = [...component].sort()[0];
    const parent = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
      const v = queue.shift()!;
      for (const w of graph.get(v) ?? []) {
        if (!members.has(w)) continue;
        if (w === start) {
          const path = [v];
          while (path[0] !== start) path.unshift(parent.get(path[0])!);
          return [...path, start];
        }
        if (!parent.has(w)) {
          parent.set(w, v);
          queue.push(w);
        }
      }
    }
    return [start, start];
  });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sourceFiles(p);
    return /\.(ts|tsx|mts|cts)$/.test(name) && !name.endsWith('.d.ts') ? [resolve(p)] : [];
  });
}

export function checkCycles(dir: string, runtimeOnly: boolean): string[][] {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(dir)) {
    graph.set(file, importsOf(file, ts.sys.readFile(file) ?? '', runtimeOnly));
  }
  return findCycles(graph);
}

if (process.argv[1] && resolve(process.argv[1]) === resolve(import.meta.filename ?? '')) {
  const args = process.argv.slice(2);
  const runtimeOnly = args.includes('--runtime');
  const dir = args.find((a) => !a.startsWith('--')) ?? 'src';
  const cycles = checkCycles(dir, runtimeOnly);
  const rel = (f: string) => relative(process.cwd(), f);
  if (cycles.length === 0) {
    console.log(`no import cycles in ${dir}/${runtimeOnly ? ' (runtime imports)' : ''}`);
  } else {
    console.error(`${cycles.length} import cycle(s) in ${dir}/:`);
    for (const c of cycles) console.error(`  ${c.map(rel).join(' → ')}`);
    process.exitCode = 1;
  }
}
