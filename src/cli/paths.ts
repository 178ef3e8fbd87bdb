// Output paths are checked before the work starts (a typo in --report must not cost a training run), and file
// system errors become FashionMnistError IO_ERROR with the path and what to do, never a stack trace.
import { accessSync, constants, type Stats, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { FashionMnistError } from '../errors.js';

const ERRNO_TEXT: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is a file, not a directory',
  ENOENT: 'no such file or directory',
  EEXIST: 'already exists',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  ELOOP: 'too many symbolic links',
  EBUSY: 'resource busy',
  EIO: 'input/output error',
};

/** True for a Node system error (`EACCES`, `EISDIR`, …) as thrown by `node:fs`. */
export function isErrnoError(e: unknown): e is NodeJS.ErrnoException {
  return (
    e instanceof Error &&
    typeof (e as NodeJS.ErrnoException).code === 'string' &&
    /^E[A-Z0-9]+$/.test((e as NodeJS.ErrnoException).code as string) &&
    typeof (e as NodeJS.ErrnoException).syscall === 'string'
  );
}

/**
 * A system error as FashionMnistError `IO_ERROR`: `what` says what was being done (e.g. `writing the report`),
 * `path` the file when the error does not carry one.
 */
export function ioError(e: NodeJS.ErrnoException, what: string, path?: string): FashionMnistError {
  const where = e.path ?? path;
  const code = e.code ?? 'unknown';
  const text = ERRNO_TEXT[code] ?? e.message;
  return new FashionMnistError(
    'IO_ERROR',
    `${what}${where ? ` (${where})` : ''}: ${text} (${code}${e.syscall ? ` on ${e.syscall}` : ''})`,
    { ...(where ? { path: where } : {}), cause: e },
  );
}

/** Runs `fn`; a system error it throws becomes IO_ERROR (see {@link ioError}); anything else passes through. */
export async function withIoErrors<T>(
  what: string,
  path: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw isErrnoError(e) ? ioError(e, what, path) : e;
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function refuse(option: string, path: string, why: string): FashionMnistError {
  return new FashionMnistError('IO_ERROR', `${option} ${path}: ${why}`, { path });
}

/** The nearest existing ancestor of `dir` (directories are created on write) must be a writable directory. */
function checkCreatable(option: string, path: string, dir: string): void {
  let d = dir;
  let st = statOrNull(d);
  while (st === null && dirname(d) !== d) {
    d = dirname(d);
    st = statOrNull(d);
  }
  if (st === null) throw refuse(option, path, `no part of the path exists`);
  if (!st.isDirectory()) {
    throw refuse(option, path, `${d} is a file, not a directory; choose a path in a directory`);
  }
  try {
    accessSync(d, constants.W_OK | constants.X_OK);
  } catch {
    throw refuse(option, path, `cannot write into ${d} (permission denied); choose a writable directory`);
  }
}

/**
 * Checks, before any work, that the file `path` given to `option` can be written: it is not a directory, and
 * it is writable or can be created (its nearest existing ancestor is a writable directory). Returns the
 * absolute path.
 *
 * @throws FashionMnistError `IO_ERROR` naming the option and what to change.
 */
export function checkOutputFile(option: string, path: string): string {
  const abs = resolve(path);
  const st = statOrNull(abs);
  if (st?.isDirectory()) throw refuse(option, path, 'is a directory; give a file name');
  if (st !== null) {
    try {
      accessSync(abs, constants.W_OK);
    } catch {
      throw refuse(option, path, 'exists and is not writable (permission denied)');
    }
  }
  checkCreatable(option, path, dirname(abs));
  return abs;
}

/**
 * Checks, before any work, that the directory `path` given to `option` can be written into: it is a writable
 * directory, or it can be created. Returns the absolute path.
 *
 * @throws FashionMnistError `IO_ERROR` naming the option and what to change.
 */
export function checkOutputDir(option: string, path: string): string {
  const abs = resolve(path);
  const st = statOrNull(abs);
  if (st !== null && !st.isDirectory()) throw refuse(option, path, 'is a file, not a directory');
  if (st !== null) {
    try {
      accessSync(abs, constants.W_OK | constants.X_OK);
    } catch {
      throw refuse(option, path, 'is not writable (permission denied)');
    }
    return abs;
  }
  checkCreatable(option, path, dirname(abs));
  return abs;
}
