import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { unavailable, type AppError } from '../errors.js';
import { sleep } from '../system/linux-processes.js';
import type { ExitInfo } from './vmm-driver.js';

/**
 * A hypervisor child process, as both drivers run it: its exit is a promise that never
 * rejects, and the tail of what it printed is kept so a failed boot can say why.
 */
export interface HypervisorProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<ExitInfo>;
  /** Whether the process has not exited yet. */
  running(): boolean;
  /** The last lines it wrote to stderr (and stdout, when not piped elsewhere), joined by ` | `. */
  outputTail(): string;
}

export interface SpawnHypervisorOptions {
  /** `vm "web"`: leads every error message. */
  label: string;
  /** stdin and stdout: 'pipe' when the driver relays the console itself. */
  stdio: 'console' | 'quiet';
  env?: NodeJS.ProcessEnv;
  /**
   * A named network namespace to run in (`ip netns exec` execs the hypervisor in place, so the
   * PID stays the hypervisor's). The VM's tap device lives there.
   */
  netns?: string;
  /** Open files the hypervisor gets as fds 3, 4, … in this order (QEMU `-incoming fd:3`). */
  extraFds?: readonly number[];
}

const TAIL_LINES = 8;

/** Spawns `file args…` (never through a shell) and resolves once it is running. */
export async function spawnHypervisor(
  file: string,
  args: readonly string[],
  options: SpawnHypervisorOptions,
): Promise<HypervisorProcess> {
  const stdio: StdioOptions = [
    options.stdio === 'console' ? 'pipe' : 'ignore',
    'pipe',
    'pipe',
    ...(options.extraFds ?? []),
  ];
  const argv =
    options.netns === undefined
      ? [file, ...args]
      : ['ip', 'netns', 'exec', options.netns, file, ...args];
  const [bin = file, ...rest] = argv;
  const child = spawn(bin, rest, { stdio, env: options.env ?? process.env });
  const tail: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) {
      const l = line.trim();
      if (l !== '') tail.push(l);
    }
    tail.splice(0, Math.max(0, tail.length - TAIL_LINES));
  };
  child.stderr?.on('data', keep);
  if (options.stdio === 'quiet') child.stdout?.on('data', keep);

  let alive = true;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err: NodeJS.ErrnoException) => {
      alive = false;
      reject(
        err.code === 'ENOENT'
          ? unavailable(`${options.label}: ${file}: not installed or not on PATH`, { cause: err })
          : unavailable(`${options.label}: ${file}: cannot start: ${err.message}`, { cause: err }),
      );
    });
  });
  const pid = child.pid;
  if (pid === undefined) throw unavailable(`${options.label}: ${file}: cannot start`);
  return {
    child,
    pid,
    exited,
    running: () => alive,
    outputTail: () => tail.join(' | '),
  };
}

/**
 * Connects to a unix socket the hypervisor creates once it is up, retrying until it accepts,
 * the process exits (the error then carries its output) or the timeout passes.
 */
export async function connectWhenReady(
  proc: HypervisorProcess,
  path: string,
  options: { label: string; what: string; timeoutMs: number },
): Promise<Socket> {
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    if (!proc.running()) throw exitedDuringBoot(proc, options.label, options.what);
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(path);
        s.once('connect', () => {
          s.removeListener('error', reject);
          resolve(s);
        });
        s.once('error', reject);
      });
    } catch {
      if (Date.now() > deadline) {
        throw unavailable(
          `${options.label}: ${options.what} did not open ${path} within ${options.timeoutMs} ms`,
        );
      }
      // The socket is up some tens of ms after the exec, and a guest started paused waits for
      // it: look often at first, then less.
      await sleep(attempt < 50 ? 2 : 20);
    }
  }
}

/** The error for a hypervisor that died before the guest was booting. */
export function exitedDuringBoot(proc: HypervisorProcess, label: string, what: string): AppError {
  const out = proc.outputTail();
  return unavailable(`${label}: ${what} exited during boot: ${out === '' ? 'no output' : out}`);
}

/** SIGKILLs the process unless it has exited, and waits for it. */
export async function killNow(proc: HypervisorProcess): Promise<void> {
  if (proc.running()) proc.child.kill('SIGKILL');
  await proc.exited;
}

/** Waits up to `ms` for the process to exit; true when it has. */
export async function exitsWithin(proc: HypervisorProcess, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const done = await Promise.race([proc.exited.then(() => true as const), timeout]);
  clearTimeout(timer);
  return done;
}
