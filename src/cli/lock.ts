/**
 * The output-folder lock: `webgrad train` holds <out>/.webgrad-train.lock (its pid inside) for the
 * whole run, so a second run given the same --out refuses instead of mixing its checkpoint with the
 * first run's model and metrics. A lock left by a process that no longer exists (killed, crashed)
 * is stale and replaced.
 *
 * Limits, honestly: Node has no advisory file locks, so this is a pid file. Two runs that find the
 * same stale lock at the same instant could both replace it (the window is one unlink + create).
 * A stale pid reused by an unrelated live process is taken as live; the message names the lock
 * file so the user can delete it.
 */
import { openSync, writeSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { WebgradError } from '../errors.js';
import { fsProblem } from '../io/files-node.js';

export const LOCK_NAME = '.webgrad-train.lock';

/** Whether a process with this pid exists (signal 0 checks without signalling). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface OutLock {
  path: string;
  /** Removes the lock if it is still ours. Safe to call twice. */
  release(): void;
  /** Set when a stale lock (its dead pid) was replaced. */
  replacedPid: number | null;
}

function readPid(path: string): number | null {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

/** Takes the lock on `dir` for `pid` (default: this process), or throws a WebgradError naming the owner. */
export function acquireOutLock(dir: string, pid = process.pid): OutLock {
  const path = join(dir, LOCK_NAME);
  let replacedPid: number | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx'); // fails if it exists: creation is the atomic test-and-set
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new WebgradError(`train: cannot write in the --out folder ${dir}: ${fsProblem(e)}`);
      const owner = readPid(path);
      if (owner !== null && owner !== pid && processAlive(owner)) {
        throw new WebgradError(`train: the --out folder ${dir} is in use by another webgrad train (pid ${owner}); choose another --out, or wait for it to finish (if no such run exists, delete ${path})`);
      }
      // Stale (its process is gone), empty or unreadable: replace it.
      replacedPid = owner;
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, `${pid}\n`);
    } catch (e) {
      closeSync(fd);
      rmSync(path, { force: true });
      throw new WebgradError(`train: cannot write in the --out folder ${dir}: ${fsProblem(e)}`);
    }
    closeSync(fd);
    let released = false;
    return {
      path,
      replacedPid,
      release(): void {
        if (released) return;
        released = true;
        if (readPid(path) === pid) rmSync(path, { force: true });
      },
    };
  }
  throw new WebgradError(`train: could not take the lock ${path} (another run keeps replacing it)`);
}
