import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';

/**
 * Whether `pid` is a live process whose command line contains `marker` (when given). The marker
 * guards against PID reuse: after a crash, another process may hold the old PID.
 */
export function isProcessAlive(pid: number | undefined, marker?: string): boolean {
  if (pid === undefined || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return false;
  }
  // A zombie has exited; only its parent's wait is missing.
  if (/\) Z /.test(stat)) return false;
  if (marker === undefined) return true;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').includes(marker);
  } catch {
    return false;
  }
}

/** Sends a signal, ignoring a process that is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/**
 * Signals `pid` only while it is still the process meant: alive, and with `marker` (a VM's UID)
 * in its command line, as `isProcessAlive` decides for `ps`. A stored PID that was reused by an
 * unrelated process is left alone. Returns whether the signal was sent.
 */
export function signalIfSame(
  pid: number | undefined,
  marker: string,
  signal: NodeJS.Signals,
): boolean {
  if (pid === undefined || marker === '' || !isProcessAlive(pid, marker)) return false;
  return signalProcess(pid, signal);
}

/** Polls until the process is gone or the timeout passes; true when it is gone. */
export async function waitForExit(
  pid: number,
  timeoutMs: number,
  marker?: string,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid, marker)) return true;
    await sleep(50);
  }
  return !isProcessAlive(pid, marker);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export interface DetachedOptions {
  /** stdout and stderr are appended here. */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/**
 * Starts a process in its own session, detached from ours, so it outlives the CLI that started
 * it and does not get the terminal's signals. Returns its PID.
 */
export function spawnDetached(
  file: string,
  args: readonly string[],
  options: DetachedOptions,
): number {
  const fd = openSync(options.logFile, 'a', 0o600);
  try {
    const child = spawn(file, args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: options.env,
      cwd: options.cwd,
    });
    // A missing binary is reported through 'error' after spawn returns; pid tells us synchronously.
    child.on('error', () => undefined);
    if (child.pid === undefined) throw new Error(`${file}: could not start`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * The processes whose command line has `match(argv)` true, read from /proc. Processes that exit
 * while being read are passed over.
 */
export async function findProcesses(match: (argv: string[]) => boolean): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').then(
      (c) => c.split('\0').filter((a) => a !== ''),
      () => [],
    );
    if (argv.length > 0 && match(argv)) pids.push(pid);
  }
  return pids;
}
