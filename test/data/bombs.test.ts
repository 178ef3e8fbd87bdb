// Gzip bombs (issue 11, item 5): ~1 MB of gzip that inflates to 1 GiB. Each case runs in its own Node process
// (test/data/bomb-child.ts) so that the peak RSS measured there belongs to the attack alone. The bound:
// a typed error in under 2 s and under 300 MB of extra RSS (0.1.0: 2.1 GB for 17.6 s in the Node loader,
// 3.2 GB for 33 s in parseIdx). The time is measured around the call only, not the process start.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const CASES: Record<string, string> = {
  'node-loader': 'TOO_LARGE',
  'url-loader': 'TOO_LARGE',
  'parse-idx-declared': 'BAD_SHAPE',
  'parse-idx-zeros': 'BAD_DTYPE',
  'parse-idx-huge-header': 'TOO_LARGE',
};

describe('a 1 GiB gzip bomb fails fast, typed, in bounded memory', () => {
  for (const [name, code] of Object.entries(CASES)) {
    it(name, () => {
      const r = spawnSync(
        process.execPath,
        ['--expose-gc', '--import', 'tsx', 'test/data/bomb-child.ts', name],
        {
          encoding: 'utf8',
          timeout: 240_000,
        },
      );
      expect(r.status, r.stderr).toBe(0);
      const result = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}');
      expect(result.code).toBe(code);
      expect(result.ms).toBeLessThan(2000);
      expect(result.extraRssMiB).toBeLessThan(300);
    });
  }
});
