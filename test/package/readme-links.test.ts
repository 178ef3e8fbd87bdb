// The README is shown on the npm page, where only absolute links work (docs/ and examples/ are not in the
// tarball): every link is absolute, and every link into this repository names a file that exists here.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const REPO = 'https://github.com/fashion-mnist-tfjs/fashion-mnist-tfjs';

/** Targets of inline Markdown links and images, outside code blocks and code spans. */
function linkTargets(markdown: string): string[] {
  const prose = markdown.replace(/^(`{3,}|~{3,})[^\n]*\n[\s\S]*?^\1\s*$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/!?\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
}

describe('README.md links', () => {
  const readme = readFileSync('README.md', 'utf8');
  const targets = linkTargets(readme);

  it('are absolute, so they work on the npm page', () => {
    expect(targets.length).toBeGreaterThan(5);
    expect(targets.filter((t) => !/^https?:\/\//.test(t) && !t.startsWith('#'))).toEqual([]);
  });

  it('into the repository name files that exist', () => {
    const missing = targets
      .filter((t) => t.startsWith(`${REPO}/blob/main/`) || t.startsWith(`${REPO}/tree/main/`))
      .map((t) => t.slice(`${REPO}/blob/main/`.length).replace(/#.*$/, ''))
      .filter((path) => !existsSync(path));
    expect(missing).toEqual([]);
  });

  it('package.json points to the same repository', () => {
    const manifest = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(manifest.repository.url).toBe(`git+${REPO}.git`);
    expect(manifest.homepage).toMatch(new RegExp(`^${REPO}`));
    expect(manifest.bugs.url).toBe(`${REPO}/issues`);
  });

  it('the extraction finds relative links and ignores code', () => {
    expect(linkTargets('[a](docs/a.md) `[b](c.md)`\n```ts\n[d](e.md)\n```\n![i](https://x/y.png)')).toEqual([
      'docs/a.md',
      'https://x/y.png',
    ]);
  });
});
