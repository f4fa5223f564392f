import type {
  DetachedOptions,
  ProcessIdentity,
  ProcessRef,
  Processes,
} from '../../src/system/processes.js';
import type { Clock } from '../../src/system/clock.js';

/** One process of the fake host. */
export interface FakeProcess {
  pid: number;
  startTime: number;
  argv: string[];
  alive: boolean;
  /** The signals it was sent, in order. */
  received: NodeJS.Signals[];
  /**
   * What a signal does to it; the default ends it on SIGKILL, SIGTERM, SIGINT and SIGQUIT and
   * ignores the others. A handler that ends it calls FakeProcesses.exit, so onExit runs.
   */
  onSignal?: (signal: NodeJS.Signals, self: FakeProcess) => void;
  /** Runs once when it ends, with the signal that ended it, if one did. */
  onExit?: (signal: NodeJS.Signals | undefined) => void;
}

export interface SpawnRecord {
  file: string;
  args: string[];
  options: DetachedOptions;
  process: FakeProcess;
}

/** The signals whose default effect ends a process. */
export const ENDS = new Set<NodeJS.Signals>(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT']);

/**
 * A process table in memory. Spawned processes live until signalled (or `exit`); `onSpawn` lets a
 * test give each its behaviour (write the VM's status, catch signals, die at once).
 */
export class FakeProcesses implements Processes {
  readonly table = new Map<number, FakeProcess>();
  readonly spawned: SpawnRecord[] = [];
  /** Every signal sent, with its target, in order (also those to processes already gone). */
  readonly signals: { pid: number; signal: NodeJS.Signals }[] = [];
  onSpawn?: (record: SpawnRecord) => void;
  /** Pid files by path (claimPidFile). */
  readonly pidFiles = new Map<string, ProcessRef>();
  private nextPid = 1000;
  private ticks = 1;

  constructor(private readonly clock?: Clock) {}

  /** Adds a running process, as if started before the test. */
  add(argv: string[], over: Partial<FakeProcess> = {}): FakeProcess {
    const p: FakeProcess = {
      pid: this.nextPid++,
      startTime: this.ticks++,
      argv,
      alive: true,
      received: [],
      ...over,
    };
    this.table.set(p.pid, p);
    return p;
  }

  /** Ends a process, as if it exited on its own (or of `signal`). */
  exit(pid: number, signal?: NodeJS.Signals): void {
    const p = this.table.get(pid);
    if (!p?.alive) return;
    p.alive = false;
    p.onExit?.(signal);
  }

  spawnDetached(file: string, args: readonly string[], options: DetachedOptions): ProcessRef {
    const process = this.add([file, ...args]);
    const record: SpawnRecord = { file, args: [...args], options, process };
    this.spawned.push(record);
    this.onSpawn?.(record);
    return { pid: process.pid, startTime: process.startTime };
  }

  isAlive(pid: number | undefined, identity: ProcessIdentity = {}): boolean {
    const p = pid === undefined ? undefined : this.table.get(pid);
    if (!p?.alive) return false;
    if (identity.startTime !== undefined && identity.startTime !== p.startTime) return false;
    return identity.marker === undefined || p.argv.join(' ').includes(identity.marker);
  }

  signal(pid: number, signal: NodeJS.Signals): boolean {
    this.signals.push({ pid, signal });
    const p = this.table.get(pid);
    if (!p?.alive) return false;
    p.received.push(signal);
    if (p.onSignal) p.onSignal(signal, p);
    else if (ENDS.has(signal)) this.exit(pid, signal);
    return true;
  }

  signalIfSame(
    pid: number | undefined,
    identity: ProcessIdentity,
    signal: NodeJS.Signals,
  ): boolean {
    if (pid === undefined || identity.marker === '' || !this.isAlive(pid, identity)) return false;
    return this.signal(pid, signal);
  }

  /** Gone at once, or polls every 50 ms of the clock (when given) until the timeout. */
  async waitForExit(pid: number, timeoutMs: number, identity?: ProcessIdentity): Promise<boolean> {
    if (this.clock === undefined) return !this.isAlive(pid, identity);
    const deadline = this.clock.now().getTime() + timeoutMs;
    while (this.clock.now().getTime() < deadline) {
      if (!this.isAlive(pid, identity)) return true;
      await this.clock.sleep(50);
    }
    return !this.isAlive(pid, identity);
  }

  pidFileHolder(file: string): ProcessRef | undefined {
    return this.pidFiles.get(file);
  }

  claimPidFile(file: string, holder: ProcessRef): boolean {
    const current = this.pidFiles.get(file);
    if (current !== undefined && current.pid !== holder.pid && this.isAlive(current.pid, current))
      return false;
    this.pidFiles.set(file, holder);
    return true;
  }

  find(match: (argv: readonly string[]) => boolean): Promise<ProcessRef[]> {
    return Promise.resolve(
      [...this.table.values()]
        .filter((p) => p.alive && match(p.argv))
        .map((p) => ({ pid: p.pid, startTime: p.startTime })),
    );
  }
}
