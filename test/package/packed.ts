// The package as users get it, shared by the package tests (pack.test.ts, snippets.test.ts): `npm run build`,
// `npm pack`, then a fresh consumer project that installs the tarball with only its declared dependencies.
//
// Vitest runs test files in parallel processes, and two builds at once would overwrite each other's dist/. So
// the first file to ask builds and packs under a lock directory, and the others wait for it and reuse its
// tarball. The lock is keyed by this checkout and by the vitest main process (every file's parent), so each run
// of the suite packs afresh; a fingerprint of the packed inputs guards runners whose files share no parent.
// Folders left by runs that have ended are removed.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve('.');
export const BIN = join(ROOT, 'node_modules', '.bin');

/** The peer dependencies every consumer installs (the wasm backend is added where a test needs it). */
export const PEERS = [
  '@tensorflow/tfjs-core@4.22.0',
  '@tensorflow/tfjs-layers@4.22.0',
  '@tensorflow/tfjs-backend-cpu@4.22.0',
];
export const WASM_PEER = '@tensorflow/tfjs-backend-wasm@4.22.0';

export interface ShResult {
  code: number;
  out: string;
  stdout: string;
  stderr: string;
}

export function sh(
  cmd: string,
  args: string[],
  cwd: string,
  timeout = 180_000,
  env: NodeJS.ProcessEnv = {},
): ShResult {
  const r = spawnSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    timeout,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  const stdout = r.stdout ?? '';
  const stderr = r.stderr ?? '';
  const why = r.error ? `\n(${r.error.message})` : '';
  return { code: r.status ?? -1, out: `${stdout}${stderr}${why}`, stdout, stderr };
}

export interface Packed {
  /** Absolute path of the `.tgz`. */
  tarball: string;
  /** Paths inside the package, as `npm pack --json` lists them. */
  files: string[];
  /** The folder holding the tarball (and its unpacked copy under `package/`). */
  dir: string;
}

/** What goes into the tarball, by size and modification time: enough to tell a stale pack from a fresh one. */
function fingerprint(): string {
  const hash = createHash('sha256');
  const walk = (path: string) => {
    if (!existsSync(path)) return;
    const s = statSync(path);
    if (s.isDirectory()) {
      for (const name of readdirSync(path).sort()) walk(join(path, name));
    } else {
      hash.update(`${path}\0${s.size}\0${s.mtimeMs}\n`);
    }
  };
  for (const p of [
    'src',
    'data/sample',
    'models',
    'package.json',
    'tsup.config.ts',
    'README.md',
    'CHANGELOG.md',
  ])
    walk(join(ROOT, p));
  return hash.digest('hex');
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds and packs this checkout once per test run (see the file comment) and returns the tarball. Throws, with
 * the build's or npm's output, when either fails.
 */
export async function packOnce(): Promise<Packed> {
  const key = createHash('sha256').update(ROOT).digest('hex').slice(0, 12);
  const prefix = `fmnist-pack-${key}-`;
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(name.slice(prefix.length));
    if (name.startsWith(prefix) && pid !== process.ppid && !alive(pid)) {
      rmSync(join(tmpdir(), name), { recursive: true, force: true });
    }
  }
  const dir = join(tmpdir(), `${prefix}${process.ppid}`);
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'lock');
  const ready = join(dir, 'ready.json');
  const print = fingerprint();
  for (const started = Date.now(); ; ) {
    if (existsSync(ready)) {
      const r = JSON.parse(readFileSync(ready, 'utf8')) as Packed & { fingerprint: string; error?: string };
      if (r.error) throw new Error(r.error);
      if (r.fingerprint === print) return r;
      rmSync(ready, { force: true });
    }
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      // Someone else builds. Take over only if that process has died.
      let holder = 0;
      try {
        holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {}
      if (holder && !alive(holder)) rmSync(lock, { recursive: true, force: true });
      if (Date.now() - started > 15 * 60_000) throw new Error(`waited 15 min for the build in ${dir}`);
      await sleep(500);
    }
  }
  try {
    const built = sh('npm', ['run', 'build'], ROOT, 600_000);
    if (built.code !== 0) throw new Error(`npm run build failed:\n${built.out}`);
    const packed = sh('npm', ['pack', '--json', '--pack-destination', dir], ROOT);
    if (packed.code !== 0) throw new Error(`npm pack failed:\n${packed.out}`);
    const info = JSON.parse(
      packed.stdout.slice(packed.stdout.indexOf('['), packed.stdout.lastIndexOf(']') + 1),
    )[0];
    const result: Packed = {
      tarball: join(dir, info.filename),
      files: info.files.map((f: { path: string }) => f.path),
      dir,
    };
    rmSync(join(dir, 'package'), { recursive: true, force: true });
    const untar = sh('tar', ['-xzf', result.tarball, '-C', dir], dir);
    if (untar.code !== 0) throw new Error(`tar failed:\n${untar.out}`);
    writeFileSync(ready, JSON.stringify({ ...result, fingerprint: print }));
    return result;
  } catch (e) {
    writeFileSync(ready, JSON.stringify({ error: (e as Error).message, fingerprint: print }));
    throw e;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/**
 * A fresh ESM project in `dir` with the tarball and `deps` installed, as a user would: from the npm cache where
 * it has the packages, from the registry otherwise (the test asserts what got installed, not how).
 */
export function installConsumer(dir: string, tarball: string, deps: string[] = PEERS): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  const installed = sh(
    'npm',
    ['install', '--no-audit', '--no-fund', '--no-package-lock', '--prefer-offline', tarball, ...deps],
    dir,
    600_000,
  );
  if (installed.code !== 0) throw new Error(`npm install failed:\n${installed.out}`);
}
