/** Node file helpers: an atomic write (temporary file, fsync, rename) so a crash never leaves half a checkpoint. */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync, readFileSync, existsSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { WebgradError } from '../errors.js';

/**
 * Writes bytes to `path` atomically: the previous file stays intact until the new one is complete
 * on disk. `beforeRename` is a test hook to simulate a crash mid-write.
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

export function readFileBytes(path: string, what: string): Uint8Array {
  if (!existsSync(path)) throw new WebgradError(`${what}: file not found: ${path}`);
  return new Uint8Array(readFileSync(path));
}
