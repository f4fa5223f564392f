import type { VMStatus } from '../api/index.js';

/** A VM's root disk as found in its directory. */
export interface FoundRootDisk {
  path: string;
  format: 'qcow2' | 'raw';
}

/**
 * The files beside stored objects that the use cases read and write (names in layout.ts): a VM's
 * run record, sockets, logs and root disk, and the files of images and kernels. A test keeps them
 * in memory (test/fakes/fake-runtime-files.ts).
 */
export interface RuntimeFiles {
  /** Creates `<dataDir>/vm/<uid>/` before the VM is stored (a fleet host makes its files first). */
  makeVMDir(uid: string): Promise<void>;
  /** The UIDs of the VM directories in this host's data dir: the VMs with files here. */
  listVMDirs(): Promise<string[]>;
  /**
   * Creates the VM's run dir (layout.ts), 0700, before a run makes its sockets there: under the
   * user's runtime dir it may be gone since the last run (a reboot empties it).
   */
  makeRunDir(uid: string): Promise<void>;
  /** The UIDs of the VMs with a dir under the run dir; none when runs use the VMs' own dirs. */
  listRunDirs(): Promise<string[]>;
  /**
   * Removes a VM's dir under the run dir whole, whatever a dead run left there (passt's files
   * too), with the run dir itself when that leaves it empty. Nothing without a run dir.
   */
  removeRunDir(uid: string): Promise<void>;
  /** Removes a VM's directory that holds no stored VM. */
  removeVMDir(uid: string): Promise<void>;
  /**
   * The supervisor's record of the VM's current run; undefined when there is none (the usual
   * case) or it is unreadable. Synchronous: `ps` asks it of every VM that is not running.
   */
  readRunRecord(uid: string): VMStatus | undefined;
  /**
   * The UIDs that may have a run record, from one look at the run dir: a listing asks
   * readRunRecord only of these. Undefined when run records are kept in the VMs' own
   * directories, where only a look at each tells.
   */
  mayHaveRunRecords(): ReadonlySet<string> | undefined;
  /**
   * Records that the host supervisor `pid` supervises the VM (layout.ts `supervisedBy`), until
   * `unmarkSupervised`. Synchronous reads: every VM that claims to run is asked.
   */
  markSupervised(uid: string, pid: number): Promise<void>;
  /** Removes the mark if `pid` made it (a later supervisor's stays). */
  unmarkSupervised(uid: string, pid: number): Promise<void>;
  /** The PID the VM's supervision mark names; undefined without one. */
  supervisedBy(uid: string): number | undefined;
  writeRunRecord(uid: string, status: VMStatus): Promise<void>;
  removeRunRecord(uid: string): Promise<void>;
  /**
   * Removes what a run leaves that only a live run uses: sockets and the run record, and the
   * VM's run dir (with the run dir itself, when they are left empty).
   */
  removeRunFiles(uid: string): Promise<void>;
  /**
   * Runs `fn` holding the VM's start lock, which one process at a time holds (the lock of a
   * process that died is taken over after a few seconds).
   */
  withStartLock<T>(uid: string, fn: () => Promise<T>): Promise<T>;
  /**
   * Runs `fn` holding the host's one volume lock (`<dataDir>/volume/.attach.lock`): a VM that
   * attaches named volumes checks who else holds them and records itself Running under it, so
   * two starts cannot both take a volume.
   */
  withVolumeLock<T>(fn: () => Promise<T>): Promise<T>;
  /** The VM's root disk, qcow2 first; undefined when it has none. */
  rootDisk(uid: string): Promise<FoundRootDisk | undefined>;
  /** The supervisor's log, or undefined when it wrote none. */
  readSpawnLog(uid: string): Promise<string | undefined>;
  /** The last `bytes` of the console log, or undefined when there is none. */
  readConsoleTail(uid: string, bytes: number): Promise<string | undefined>;
  /**
   * Copies a log to `out` (not ending it): the console's rotated generation first, so the output
   * reads in order. False when the log does not exist.
   */
  copyLog(uid: string, log: 'console' | 'spawn', out: NodeJS.WritableStream): Promise<boolean>;
  /** Copies the log as copyLog does, then what is written to it, until `signal` aborts. */
  followLog(
    uid: string,
    log: 'console' | 'spawn',
    out: NodeJS.WritableStream,
    signal: AbortSignal,
  ): Promise<void>;
  /** Whether a file exists (an SSH key, a kernel's vmlinux). */
  exists(path: string): Promise<boolean>;
  /** The disk space a file takes, 0 when it is absent. */
  diskUsage(path: string): Promise<number>;
}
