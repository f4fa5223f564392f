import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { readFile, readdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Clock } from './clock.js';
import { claimPidFile, pidFileHolder } from './pid-lock.js';
import type { DetachedOptions, ProcessIdentity, ProcessRef, Processes } from './processes.js';
import { systemClock } from './system-clock.js';

/** The fields of `/proc/<pid>/stat` after the command name, which may itself hold spaces. */
function statFields(pid: number): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The process's start time in clock ticks after boot (field 22), or undefined when it is gone. */
export function processStartTime(pid: number): number | undefined {
  const t = Number(statFields(pid)?.[19]);
  return Number.isFinite(t) ? t : undefined;
}

/**
 * Whether `pid` is a live process matching `identity`: its start time when given, and its marker
 * (a string alone is one) in its command line when given. While a process execs, its command
 * line reads empty for a moment (a server just started through `ip netns exec` was taken for
 * gone that way), so this looks again, 1 ms apart, until the exec is done: it blocks meanwhile.
 * A polling loop uses processLook instead.
 */
export function isProcessAlive(
  pid: number | undefined,
  identity: ProcessIdentity | string = {},
): boolean {
  for (let look = 0; look < EXEC_LOOKS; look++) {
    const seen = processLook(pid, identity);
    if (seen !== 'exec') return seen === 'ours';
    Atomics.wait(execPause, 0, 0, 1);
  }
  return false;
}

/**
 * One look at `pid` (see isProcessAlive): the process meant, gone (or another), or still exec-ing
 * a program, whose command line cannot be told yet.
 */
export function processLook(
  pid: number | undefined,
  identity: ProcessIdentity | string = {},
): 'ours' | 'gone' | 'exec' {
  if (pid === undefined || pid <= 0) return 'gone';
  const { marker, startTime } = typeof identity === 'string' ? { marker: identity } : identity;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return 'gone';
  }
  const fields = statFields(pid);
  // A zombie has exited; only its parent's wait is missing.
  if (fields === undefined || fields[0] === 'Z') return 'gone';
  if (startTime !== undefined && Number(fields[19]) !== startTime) return 'gone';
  if (marker === undefined) return 'ours';
  // A kernel thread has no command line and is never a process of ours.
  if ((Number(fields[6]) & PF_KTHREAD) !== 0) return 'gone';
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return 'gone';
  }
  if (cmdline === '') return 'exec';
  return cmdline.split('\0').join(' ').includes(marker) ? 'ours' : 'gone';
}

const PF_KTHREAD = 0x00200000;
/** How many times, 1 ms apart, an empty command line is read again before the process counts as not ours. */
const EXEC_LOOKS = 100;
const execPause = new Int32Array(new SharedArrayBuffer(4));

/** Sends a signal, ignoring a process that is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Polls until the process is gone or the timeout passes; true when it is gone. */
export async function waitForExit(
  pid: number,
  timeoutMs: number,
  identity: ProcessIdentity | string = {},
  clock: Clock = systemClock,
): Promise<boolean> {
  const deadline = clock.now().getTime() + timeoutMs;
  while (clock.now().getTime() < deadline) {
    if (!isProcessAlive(pid, identity)) return true;
    await clock.sleep(50);
  }
  return !isProcessAlive(pid, identity);
}

/**
 * Whether `pid` runs in the network namespace at `netnsPath` (its nsfs inode is the process's)
 * and a UDP socket there is bound to `port`: a server started with `ip netns exec` is listening
 * once this holds, and not before its exec into the namespace.
 */
export async function listensUDP(pid: number, port: number, netnsPath: string): Promise<boolean> {
  try {
    const [ns, own] = await Promise.all([stat(netnsPath), stat(`/proc/${pid}/ns/net`)]);
    if (ns.ino !== own.ino || ns.dev !== own.dev) return false;
    const table = await readFile(`/proc/${pid}/net/udp`, 'utf8');
    const local = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
    return table
      .split('\n')
      .slice(1)
      .some((line) => line.trim().split(/\s+/)[1]?.endsWith(local) === true);
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return systemClock.sleep(ms);
}

/** Starts a detached process in its own session; see Processes.spawnDetached. */
export function spawnDetached(
  file: string,
  args: readonly string[],
  options: DetachedOptions,
): ProcessRef {
  // The first command on a fresh host starts the supervisor before anything made the data dir.
  mkdirSync(dirname(options.logFile), { recursive: true, mode: 0o700 });
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
    const onExit = options.onExit;
    if (onExit !== undefined) child.once('exit', (code, signal) => onExit(code, signal));
    if (child.pid === undefined) throw new Error(`${file}: could not start`);
    child.unref();
    const startTime = processStartTime(child.pid);
    return startTime === undefined ? { pid: child.pid } : { pid: child.pid, startTime };
  } finally {
    closeSync(fd);
  }
}

/**
 * The processes whose command line has `match(argv)` true, read from /proc. Processes that exit
 * while being read are passed over.
 */
export async function findProcesses(
  match: (argv: readonly string[]) => boolean,
): Promise<ProcessRef[]> {
  const found: ProcessRef[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const argv = await readFile(`/proc/${pid}/cmdline`, 'utf8').then(
      (c) => c.split('\0').filter((a) => a !== ''),
      () => [],
    );
    if (argv.length === 0 || !match(argv)) continue;
    const startTime = processStartTime(pid);
    found.push(startTime === undefined ? { pid } : { pid, startTime });
  }
  return found;
}

/** The host's processes, through /proc and kill(2). */
export class LinuxProcesses implements Processes {
  constructor(private readonly clock: Clock = systemClock) {}

  spawnDetached(file: string, args: readonly string[], options: DetachedOptions): ProcessRef {
    return spawnDetached(file, args, options);
  }

  isAlive(pid: number | undefined, identity?: ProcessIdentity): boolean {
    return isProcessAlive(pid, identity);
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    return signalProcess(pid, signal);
  }

  signalIfSame(
    pid: number | undefined,
    identity: ProcessIdentity,
    signal: NodeJS.Signals,
  ): boolean {
    if (pid === undefined || identity.marker === '' || !isProcessAlive(pid, identity)) return false;
    return signalProcess(pid, signal);
  }

  waitForExit(pid: number, timeoutMs: number, identity?: ProcessIdentity): Promise<boolean> {
    return waitForExit(pid, timeoutMs, identity, this.clock);
  }

  find(match: (argv: readonly string[]) => boolean): Promise<ProcessRef[]> {
    return findProcesses(match);
  }

  pidFileHolder(file: string): ProcessRef | undefined {
    return pidFileHolder(file);
  }

  claimPidFile(file: string, holder: ProcessRef): boolean {
    return claimPidFile(file, holder, (h) => isProcessAlive(h.pid, { startTime: h.startTime }));
  }
}
