import {
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AppError } from '../errors.js';
import type { ProcessRef, Processes } from './processes.js';

/**
 * One process of a kind per data directory (one daemon: two would both restart the same VMs;
 * one host supervisor). The lock is a file naming the holder's pid and start time, made with
 * link(2) so that only one of two processes starting at once gets it. A lock whose holder is gone
 * (killed with -9, or the host rebooted) is taken over. `held` makes the error for a live holder.
 * A lock its starter claimed for it (claimPidFile) is the process's own.
 */
export async function acquirePidLock(
  file: string,
  processes: Processes,
  self: { pid: number; startTime?: number },
  held: (pid: number) => AppError,
): Promise<() => Promise<void>> {
  await mkdir(dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${self.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(self), { mode: 0o644 });
  let holder: ProcessRef | undefined;
  try {
    holder = linkLock(tmp, file, self, (h) => processes.isAlive(h.pid, { startTime: h.startTime }));
  } finally {
    await rm(tmp, { force: true });
  }
  if (holder !== undefined) throw held(holder.pid);
  return async () => {
    const holder = parseHolder(await readFile(file, 'utf8').catch(() => ''));
    if (holder?.pid === self.pid) await rm(file, { force: true });
  };
}

/** The process a lock file names; undefined when there is none or it is unreadable. */
export function pidFileHolder(file: string): ProcessRef | undefined {
  try {
    return parseHolder(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock for `holder`, a process just started to hold it, unless another live process
 * holds it, or the directory is not this user's alone; true when the file then names `holder`.
 * So a starter marks the process it started before that process has loaded, and others wait
 * for it instead of starting a second.
 * Synchronous: bin/ignite.js claims before it loads the CLI, which blocks for a while.
 */
export function claimPidFile(
  file: string,
  holder: ProcessRef,
  isAlive: (holder: ProcessRef) => boolean,
): boolean {
  // A run dir made here is the user's own (ensurePrivateDir would refuse a wider one).
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written only where no one else can write: the holder checks its run dir is private before it
  // writes there, and this comes first. A directory that is not this user's, or that others can
  // write to, is left to that check.
  const st = lstatSync(dir);
  if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? 0) || (st.mode & 0o022) !== 0)
    return false;
  // Not the holder's own temporary name (acquirePidLock's), which it may be writing just now;
  // never through a file already there.
  const tmp = `${file}.${process.pid}.claim`;
  writeFileSync(tmp, JSON.stringify(holder), { mode: 0o644, flag: 'wx' });
  try {
    return linkLock(tmp, file, holder, isAlive) === undefined;
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Links `tmp` (naming `self`) as the lock file: undefined once the file names `self`, or the live
 * process that holds it. A stale file (its holder gone) is removed and the link tried once more.
 */
function linkLock(
  tmp: string,
  file: string,
  self: ProcessRef,
  isAlive: (holder: ProcessRef) => boolean,
): ProcessRef | undefined {
  for (let attempt = 0; ; attempt++) {
    try {
      linkSync(tmp, file);
      return undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
    }
    const current = pidFileHolder(file);
    if (current !== undefined && isSame(current, self)) return undefined;
    if (current !== undefined && isAlive(current)) return current;
    try {
      unlinkSync(file);
    } catch {
      // Another claimant took the stale file away first: the link decides.
    }
  }
}

function isSame(a: ProcessRef, b: ProcessRef): boolean {
  return (
    a.pid === b.pid &&
    (a.startTime === undefined || b.startTime === undefined || a.startTime === b.startTime)
  );
}

function parseHolder(text: string): ProcessRef | undefined {
  try {
    const v = JSON.parse(text) as { pid?: unknown; startTime?: unknown };
    if (typeof v.pid !== 'number') return undefined;
    return typeof v.startTime === 'number'
      ? { pid: v.pid, startTime: v.startTime }
      : { pid: v.pid };
  } catch {
    return undefined;
  }
}
