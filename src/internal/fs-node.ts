// File-system helpers for the Node entry: atomic writes and bounded reads with typed errors. A file either holds
// its old complete content or its new complete content, never a half-written one; a read refuses what is not a
// regular file (a FIFO would hang, a directory is EISDIR) and anything over a size known in advance.
import { randomBytes } from 'node:crypto';
import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FashionMnistError } from '../errors.js';

/** A FashionMnistError for a failed system call, with the path, the system code and what to do. */
export function ioError(where: string, action: string, path: string, e: unknown): FashionMnistError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const hint =
    code === 'ENOENT'
      ? 'the folder does not exist; create it or choose another path'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied; choose a path you can write to, or fix its permissions'
        : code === 'EISDIR'
          ? 'a directory is in the way; give a file path'
          : code === 'ENOTDIR'
            ? 'a part of the path is a file, not a folder'
            : code === 'ENOSPC'
              ? 'the disk is full'
              : 'see the cause';
  return new FashionMnistError(
    code === 'ENOENT' && action === 'read' ? 'NOT_FOUND' : 'IO_ERROR',
    `${where}: cannot ${action} ${path}: ${code ?? (e as Error)?.message ?? String(e)} (${hint})`,
    { path, cause: e },
  );
}

/** Writes `data` to `path` atomically: a temporary file beside it, flushed, then renamed over it. */
export async function writeFileAtomic(where: string, path: string, data: Uint8Array | string): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(tmp, 'wx');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e instanceof FashionMnistError ? e : ioError(where, 'write', path, e);
  }
}

/**
 * Reads a regular file of at most `maxBytes` bytes. The size is checked from `stat` before reading and again
 * while reading (a file that grows is cut off), so memory stays bounded.
 */
export async function readFileLimited(where: string, path: string, maxBytes: number): Promise<Uint8Array> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (e) {
    throw ioError(where, 'read', path, e);
  }
  if (!info.isFile()) {
    throw new FashionMnistError(
      'IO_ERROR',
      `${where}: ${path} is ${info.isDirectory() ? 'a directory' : 'not a regular file'}; give the path of a file`,
      { path },
    );
  }
  if (info.size > maxBytes) {
    throw new FashionMnistError(
      'TOO_LARGE',
      `${where}: ${path} has ${info.size} bytes, more than the limit of ${maxBytes}; raise the maxBytes option if it is right`,
      { path },
    );
  }
  try {
    const fh = await open(path, 'r');
    try {
      const out = new Uint8Array(info.size);
      let at = 0;
      while (at < out.length) {
        const { bytesRead } = await fh.read(out, at, out.length - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      return at === out.length ? out : out.slice(0, at);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw ioError(where, 'read', path, e);
  }
}
