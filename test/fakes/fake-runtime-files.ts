import { Mutex } from '../../src/storage/mutex.js';
import type { VMStatus } from '../../src/api/index.js';
import type { FoundRootDisk, RuntimeFiles } from '../../src/storage/runtime-files.js';

/** The runtime files of a data directory, in memory. Paths are only keys here. */
export class FakeRuntimeFiles implements RuntimeFiles {
  readonly vmDirs = new Set<string>();
  readonly runRecords = new Map<string, VMStatus>();
  readonly rootDisks = new Map<string, FoundRootDisk>();
  readonly spawnLogs = new Map<string, string>();
  readonly consoleLogs = new Map<string, string>();
  /** Files that exist (kernel files, SSH keys), with their disk usage. */
  readonly files = new Map<string, number>();
  /** VMs whose run files (sockets, run record) were removed, in order. */
  readonly runFilesRemoved: string[] = [];

  makeVMDir(uid: string): Promise<void> {
    this.vmDirs.add(uid);
    return Promise.resolve();
  }

  /** VMs with a run dir (made by a start, removed with their run files). */
  readonly runDirs = new Set<string>();

  makeRunDir(uid: string): Promise<void> {
    this.runDirs.add(uid);
    return Promise.resolve();
  }

  listRunDirs(): Promise<string[]> {
    return Promise.resolve([...this.runDirs]);
  }

  removeRunDir(uid: string): Promise<void> {
    this.runDirs.delete(uid);
    return Promise.resolve();
  }

  listVMDirs(): Promise<string[]> {
    return Promise.resolve([...this.vmDirs]);
  }

  removeVMDir(uid: string): Promise<void> {
    this.vmDirs.delete(uid);
    this.spawnLogs.delete(uid);
    this.consoleLogs.delete(uid);
    this.runRecords.delete(uid);
    this.rootDisks.delete(uid);
    this.supervised.delete(uid);
    return Promise.resolve();
  }

  /** Which host supervisor's PID each VM's supervision mark names. */
  readonly supervised = new Map<string, number>();

  markSupervised(uid: string, pid: number): Promise<void> {
    this.supervised.set(uid, pid);
    return Promise.resolve();
  }

  unmarkSupervised(uid: string, pid: number): Promise<void> {
    if (this.supervised.get(uid) === pid) this.supervised.delete(uid);
    return Promise.resolve();
  }

  supervisedBy(uid: string): number | undefined {
    return this.supervised.get(uid);
  }

  readRunRecord(uid: string): VMStatus | undefined {
    const r = this.runRecords.get(uid);
    return r === undefined ? undefined : structuredClone(r);
  }

  mayHaveRunRecords(): ReadonlySet<string> {
    return new Set(this.runRecords.keys());
  }

  writeRunRecord(uid: string, status: VMStatus): Promise<void> {
    this.runRecords.set(uid, structuredClone(status));
    return Promise.resolve();
  }

  removeRunRecord(uid: string): Promise<void> {
    this.runRecords.delete(uid);
    return Promise.resolve();
  }

  private readonly startLocks = new Map<string, Mutex>();

  private readonly volumeLock = new Mutex();

  withVolumeLock<T>(fn: () => Promise<T>): Promise<T> {
    return this.volumeLock.run(fn);
  }

  withStartLock<T>(uid: string, fn: () => Promise<T>): Promise<T> {
    let m = this.startLocks.get(uid);
    if (m === undefined) this.startLocks.set(uid, (m = new Mutex()));
    return m.run(fn);
  }

  removeRunFiles(uid: string): Promise<void> {
    this.runFilesRemoved.push(uid);
    this.runDirs.delete(uid);
    return this.removeRunRecord(uid);
  }

  rootDisk(uid: string): Promise<FoundRootDisk | undefined> {
    return Promise.resolve(this.rootDisks.get(uid));
  }

  readSpawnLog(uid: string): Promise<string | undefined> {
    return Promise.resolve(this.spawnLogs.get(uid));
  }

  readConsoleTail(uid: string, bytes: number): Promise<string | undefined> {
    const log = this.consoleLogs.get(uid);
    return Promise.resolve(log === undefined ? undefined : log.slice(-bytes));
  }

  copyLog(uid: string, log: 'console' | 'spawn', out: NodeJS.WritableStream): Promise<boolean> {
    const text = (log === 'spawn' ? this.spawnLogs : this.consoleLogs).get(uid);
    if (text === undefined) return Promise.resolve(false);
    out.write(text);
    return Promise.resolve(true);
  }

  async followLog(
    uid: string,
    log: 'console' | 'spawn',
    out: NodeJS.WritableStream,
    signal: AbortSignal,
  ): Promise<void> {
    await this.copyLog(uid, log, out);
    if (signal.aborted) return;
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  }

  exists(path: string): Promise<boolean> {
    return Promise.resolve(this.files.has(path));
  }

  diskUsage(path: string): Promise<number> {
    return Promise.resolve(this.files.get(path) ?? 0);
  }
}
