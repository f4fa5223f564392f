/**
 * Processes of the host, as the use cases start, watch and end them. A PID alone does not name a
 * process for long: after one exits, another may get its number. So a process is told apart by
 * its start time (field 22 of `/proc/<pid>/stat`) where that was taken, and by a marker (a VM's
 * UID) in its command line where it is known to carry one.
 */
export interface ProcessRef {
  pid: number;
  /** Clock ticks after boot at which the process started; absent when not known. */
  startTime?: number;
}

/** How a live process is recognised: a marker in its command line, its start time, or both. */
export interface ProcessIdentity {
  marker?: string | undefined;
  startTime?: number | undefined;
}

export interface DetachedOptions {
  /** stdout and stderr are appended here (created with mode 0600, in a directory made 0700 if missing). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Told how the process ended, if it ends while this process still runs. */
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

export interface Processes {
  /**
   * Starts a process in its own session, detached from ours, so it outlives its starter and does
   * not get the terminal's signals.
   */
  spawnDetached(file: string, args: readonly string[], options: DetachedOptions): ProcessRef;
  /** Whether `pid` lives (a zombie does not) and is the process `identity` describes. */
  isAlive(pid: number | undefined, identity?: ProcessIdentity): boolean;
  /** Sends a signal; false when the process is already gone. */
  signal(pid: number, signal: NodeJS.Signals): boolean;
  /**
   * Signals `pid` only while it is still the process meant (alive and matching `identity`), so a
   * PID reused by an unrelated process is left alone. Returns whether the signal was sent.
   */
  signalIfSame(pid: number | undefined, identity: ProcessIdentity, signal: NodeJS.Signals): boolean;
  /** Polls until the process is gone or `timeoutMs` passes; true when it is gone. */
  waitForExit(pid: number, timeoutMs: number, identity?: ProcessIdentity): Promise<boolean>;
  /** The processes (other than this one) whose argv `match` accepts. */
  find(match: (argv: readonly string[]) => boolean): Promise<ProcessRef[]>;
  /** The process a pid file (pid-lock.ts) names, if any. */
  pidFileHolder(file: string): ProcessRef | undefined;
  /**
   * Writes a pid file for `holder`, a process just started to take it, unless another live
   * process holds it; true when the file then names `holder` (pid-lock.ts claimPidFile).
   */
  claimPidFile(file: string, holder: ProcessRef): boolean;
}
