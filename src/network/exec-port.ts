import { basename } from 'node:path';
import type { ExecOptions, ExecResult } from '../system/exec.js';
import { run, runUnchecked } from '../system/exec.js';
import type { Tracer } from '../system/trace.js';
import {
  isProcessAlive,
  listensUDP,
  processLook,
  signalProcess,
  sleep,
  spawnDetached,
  waitForExit,
} from '../system/linux-processes.js';

/**
 * The programs the network runs (`ip`, `tc`, `iptables`, the CNI plugins), as a port: the network
 * gets it from its constructor, so a test can record each argv and answer for the host.
 */
export interface ExecPort {
  /** Runs `file args…`; throws AppError when it cannot start or exits non-zero. */
  run(file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Runs `file args…` and returns its exit code, whatever it is. */
  runUnchecked(file: string, args: readonly string[], options?: ExecOptions): Promise<ExecResult>;
}

/** The long-lived processes the network starts (the DHCP servers), as a port for the same reason. */
export interface ProcessPort {
  /**
   * Starts a detached process whose output is appended to `logFile`; returns its PID. `onExit`
   * hears how it ended, if that happens while this process runs.
   */
  start(
    file: string,
    args: readonly string[],
    logFile: string,
    onExit?: (code: number | null, signal: NodeJS.Signals | null) => void,
  ): number;
  /** Whether `pid` lives and its command line contains `marker` (a reused PID does not). */
  isAlive(pid: number, marker: string): boolean;
  /**
   * Whether the process meant has surely ended, at one look and without blocking: one still
   * exec-ing its program (through `ip netns exec`, say) has not. For polling loops.
   */
  hasEnded(pid: number, marker: string): boolean;
  signal(pid: number, signal: NodeJS.Signals): void;
  /** Polls until the process meant is gone; false when it still runs after `timeoutMs`. */
  waitForExit(pid: number, timeoutMs: number, marker: string): Promise<boolean>;
  /** Whether `pid` runs in the namespace at `netnsPath` with a UDP socket bound to `port`. */
  listensUDP(pid: number, port: number, netnsPath: string): Promise<boolean>;
  sleep(ms: number): Promise<void>;
}

export const systemExec: ExecPort = { run, runUnchecked };

export const systemProcesses: ProcessPort = {
  start: (file, args, logFile, onExit) =>
    spawnDetached(file, args, { logFile, ...(onExit !== undefined ? { onExit } : {}) }).pid,
  isAlive: (pid, marker) => isProcessAlive(pid, marker),
  hasEnded: (pid, marker) => processLook(pid, marker) === 'gone',
  signal: (pid, signal) => void signalProcess(pid, signal),
  waitForExit: (pid, timeoutMs, marker) => waitForExit(pid, timeoutMs, marker),
  listensUDP,
  sleep,
};

/** `exec` with each program's run traced as `exec <program> <first argument>` (IGNITE_TRACE). */
export function tracedExec(exec: ExecPort, trace: Tracer): ExecPort {
  const phase = (file: string, args: readonly string[]) =>
    `exec ${[basename(file), ...args.slice(0, 3)].join(' ')}`;
  return {
    run: (file, args, options) =>
      trace.span(phase(file, args), () => exec.run(file, args, options)),
    runUnchecked: (file, args, options) =>
      trace.span(phase(file, args), () => exec.runUnchecked(file, args, options)),
  };
}
