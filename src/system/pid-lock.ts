import { link, mkdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { AppError } from '../errors.js';
import type { Processes } from './processes.js';

/**
 * One process of a kind per data directory (one daemon: two would both restart the same VMs;
 * one host supervisor). The lock is a file naming the holder's pid and start time, made with
 * link(2) so that only one of two processes starting at once gets it. A lock whose holder is gone
 * (killed with -9, or the host rebooted) is taken over. `held` makes the error for a live holder.
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
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, file);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
      }
      const holder = await readHolder(file);
      if (holder !== undefined && processes.isAlive(holder.pid, { startTime: holder.startTime }))
        throw held(holder.pid);
      await unlink(file).catch(() => undefined);
    }
  } finally {
    await rm(tmp, { force: true });
  }
  return async () => {
    const holder = await readHolder(file);
    if (holder?.pid === self.pid) await rm(file, { force: true });
  };
}

async function readHolder(file: string): Promise<{ pid: number; startTime?: number } | undefined> {
  try {
    const v = JSON.parse(await readFile(file, 'utf8')) as { pid?: unknown; startTime?: unknown };
    if (typeof v.pid !== 'number') return undefined;
    return typeof v.startTime === 'number'
      ? { pid: v.pid, startTime: v.startTime }
      : { pid: v.pid };
  } catch {
    return undefined;
  }
}
