// Code blocks of the Markdown docs, extracted so the test suite can run them as written (snippets.test.ts).
//
// The rules (also in the README's Development section):
// - ```ts (or typescript, js, javascript) is a complete program, run under Node against the packed package;
// - ```ts browser is run in headless Chromium instead;
// - ```ts skip: <reason> is not run, and the reason is required (e.g. `skip: needs the network`);
// - ```sh, ```text, ```json and the other listed languages are shown, never run;
// - a block with no language, or an unknown one, is an error: nothing is left unrun by accident.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export const RUN_LANGUAGES = new Set(['ts', 'typescript', 'js', 'javascript']);
export const SHOWN_LANGUAGES = new Set(['sh', 'bash', 'shell', 'console', 'text', 'json', 'html', 'diff']);

export interface Snippet {
  /** `README.md` or `docs/x.md`. */
  file: string;
  /** Line of the opening fence, 1-based. */
  line: number;
  lang: string;
  /** Where it runs; `skip` with `reason`. */
  mode: 'node' | 'browser' | 'skip' | 'shown';
  reason?: string;
  code: string;
  /** A file-system-safe name, unique per block: `docs-knn-md-42`. */
  id: string;
}

export class SnippetRuleError extends Error {}

/** Every fenced block of one Markdown text. Throws {@link SnippetRuleError} for a block that breaks the rules. */
export function extractSnippets(file: string, markdown: string): Snippet[] {
  const lines = markdown.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, infoRaw] = open;
    const info = infoRaw.trim();
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const t = lines[j].trimStart();
      if (t.startsWith(fence) && t.slice(fence.length).trim() === '') break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    if (j === lines.length) throw new SnippetRuleError(`${file}:${i + 1}: code block is never closed`);
    const where = `${file}:${i + 1}`;
    const [lang = '', ...rest] = info.split(/\s+/);
    const tags = rest.join(' ');
    const id = `${file.replace(/[^A-Za-z0-9]+/g, '-')}-${i + 1}`;
    const snippet = { file, line: i + 1, lang, code: `${body.join('\n')}\n`, id };
    if (RUN_LANGUAGES.has(lang)) {
      const skip = /^skip:\s*(.*)$/.exec(tags);
      if (skip) {
        if (!skip[1].trim())
          throw new SnippetRuleError(`${where}: 'skip:' needs a reason, e.g. 'skip: needs the network'`);
        out.push({ ...snippet, mode: 'skip', reason: skip[1].trim() });
      } else if (tags === 'browser') {
        out.push({ ...snippet, mode: 'browser' });
      } else if (tags === '') {
        out.push({ ...snippet, mode: 'node' });
      } else {
        throw new SnippetRuleError(`${where}: unknown tag '${tags}' (allowed: 'browser', 'skip: <reason>')`);
      }
    } else if (SHOWN_LANGUAGES.has(lang)) {
      out.push({ ...snippet, mode: 'shown' });
    } else {
      throw new SnippetRuleError(
        `${where}: code block language '${lang}' is neither run (${[...RUN_LANGUAGES].join(', ')}) nor shown ` +
          `(${[...SHOWN_LANGUAGES].join(', ')}); give it one`,
      );
    }
    i = j;
  }
  return out;
}

/** The Markdown files whose blocks are run: README.md and docs/*.md (not the generated docs/api/). */
export function docFiles(root: string): string[] {
  const docs = readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => join(root, 'docs', f));
  return [join(root, 'README.md'), ...docs].map((f) => relative(root, f));
}

export function allSnippets(root: string): Snippet[] {
  return docFiles(root).flatMap((f) => extractSnippets(f, readFileSync(join(root, f), 'utf8')));
}
