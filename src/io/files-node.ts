/**
 * Node file helpers: an atomic write (temporary file, fsync, rename) so a crash never leaves half a
 * checkpoint, and file-system errors turned into one line naming the path and the problem.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, readFileSync, statSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { WebgradError } from '../errors.js';

const PROBLEMS: Record<string, string> = {
  ENOSPC: 'no space left on the device (disk full)',
  EDQUOT: 'the disk quota is exhausted',
  EROFS: 'the file system is read-only',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a component of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
  ENOENT: 'no such file or folder',
  EEXIST: 'it already exists',
  EMFILE: 'too many open files',
  EIO: 'an input/output error from the device',
};

/** The problem in words, with the system code (ENOSPC, EROFS, ...) kept for searching. */
export function fsProblem(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code && PROBLEMS[code]) return `${PROBLEMS[code]} (${code})`;
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

/** A system error from the file system (it has a code such as ENOSPC), as opposed to a bug. */
export function isFsError(e: unknown): e is NodeJS.ErrnoException {
  return e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && typeof (e as NodeJS.ErrnoException).syscall === 'string';
}

/**
 * Writes bytes to `path` atomically: the previous file stays intact until the new one is complete
 * on disk. `beforeRename` is a test hook to simulate a crash mid-write. File-system failures
 * (disk full, read-only, permissions) become a WebgradError naming the path and the problem.
 */
export function writeFileAtomic(path: string, bytes: Uint8Array, beforeRename?: () => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, 'w');
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    beforeRename?.();
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (isFsError(e)) throw new WebgradError(`cannot write ${path}: ${fsProblem(e)}; any earlier version of the file is intact`);
    throw e;
  }
  // Make the rename itself durable (not supported on every platform: best effort).
  try {
    const dir = openSync(dirname(path), 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    /* directories cannot be fsynced here (e.g. Windows) */
  }
}

/** Reads a whole file; a missing file, a folder or an unreadable file is a WebgradError naming it. */
export function readFileBytes(path: string, what: string): Uint8Array {
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new WebgradError(`${what}: file not found: ${path}`);
    throw new WebgradError(`${what}: cannot read ${path}: ${fsProblem(e)}`);
  }
  if (isDir) throw new WebgradError(`${what}: ${path} is a folder, not a file`);
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new WebgradError(`${what}: cannot read ${path}: ${fsProblem(e)}`);
  }
}
