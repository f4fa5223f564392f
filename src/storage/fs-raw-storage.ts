// Loaded with the module, not on first lock: its signal-exit hook must be installed before a
// program's own SIGTERM handler, or it re-raises a SIGTERM that handler was meant to catch.
import lockfile from 'proper-lockfile';
import { closeSync, fstatSync, openSync, readSync, statSync, type BigIntStats } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { compareText, isUID, kindDir, type Kind } from '../api/index.js';
import { unavailable } from '../errors.js';
import { isProcessAlive } from '../system/linux-processes.js';
import { mapFsError } from './fs-errors.js';
import { DataLayout, METADATA_FILE as METADATA } from './layout.js';
import { PollingWatch } from './polling-watch.js';
import type {
  ObjectKey,
  RawEntry,
  RawStorage,
  RawWatchListener,
  Watch,
  WatchOptions,
} from './raw-storage.js';

const TRASH_PREFIX = '.trash-';
/** An object directory that a directory maker other than `write` left empty is swept this late. */
const EMPTY_DIR_GRACE_MS = 30_000;
/** `write`'s temp file, named after its writer's pid. */
const TMP_FILE = /^\.metadata\.json\.(\d+)\.[0-9a-f]+$/;
/** A new object's directory while `write` fills it, named after its writer's pid. */
const NEW_PREFIX = '.new-';
const NEW_DIR = /^\.new-[0-9a-f]+\.(\d+)\.[0-9a-f]+$/;
const DIR_MODE = 0o700;
const WATCH_INTERVAL_MS = 500;

/**
 * Whether a name in a kind's directory is what a write or a delete makes on its way, and leaves
 * behind when killed: a listing of the kind sweeps it once it is no one's.
 */
export function isInterruptedLeftover(name: string): boolean {
  return name.startsWith(TRASH_PREFIX) || name.startsWith(NEW_PREFIX);
}

export interface FsRawStorageOptions {
  /** How often a watch lists its kind to see other processes' writes (default 500 ms). */
  watchIntervalMs?: number;
}
const FILE_MODE = 0o600;

/**
 * RawStorage on a directory tree: `<dataDir>/<kind>/<uid>/metadata.json`.
 * Writes go to a temp file that is fsynced and renamed over the old one, so a crash leaves either
 * version whole. A new object's directory is filled aside and renamed into place, so a crash
 * leaves no directory without its object either. Deletes rename the object directory aside
 * first, so a half-deleted object is never listed. The per-kind lock is a lock directory
 * (`<dataDir>/<kind>/.lock`) that a live holder keeps fresh; one left by a killed process goes
 * stale within seconds.
 */
export class FsRawStorage implements RawStorage {
  private readonly layout: DataLayout;

  constructor(
    readonly dataDir: string,
    private readonly options: FsRawStorageOptions = {},
  ) {
    this.layout = new DataLayout(dataDir);
  }

  private kindPath(kind: Kind): string {
    return this.layout.kindDir(kind);
  }

  objectDir(key: ObjectKey): string {
    return this.layout.objectDir(key.kind, key.uid);
  }

  private file(key: ObjectKey): string {
    return this.layout.metadata(key.kind, key.uid);
  }

  async read(key: ObjectKey): Promise<Buffer> {
    try {
      return await readFile(this.file(key));
    } catch (err) {
      throw mapFsError(err, `${kindDir(key.kind)} "${key.uid}"`);
    }
  }

  async exists(key: ObjectKey): Promise<boolean> {
    return (await this.checksum(key)) !== undefined;
  }

  async write(key: ObjectKey, data: Buffer): Promise<void> {
    const dir = this.objectDir(key);
    try {
      await writeObjectFile(dir, data);
    } catch (err) {
      if (!isAbsent(err)) throw mapFsError(err, `${kindDir(key.kind)} "${key.uid}"`);
      await this.writeNew(key, data).catch((e: unknown) => {
        throw mapFsError(e, `${kindDir(key.kind)} "${key.uid}"`);
      });
    }
  }

  /**
   * The first write of an object: its directory is made under a temp name, with the object's
   * file in it, and renamed into place whole. A writer killed half-way leaves only the temp
   * directory, which a listing sweeps once its writer is gone (sweepLeftovers).
   */
  private async writeNew(key: ObjectKey, data: Buffer): Promise<void> {
    const kindPath = this.kindPath(key.kind);
    await mkdir(kindPath, { recursive: true, mode: DIR_MODE });
    const staging = join(
      kindPath,
      `${NEW_PREFIX}${key.uid}.${process.pid}.${randomBytes(4).toString('hex')}`,
    );
    await mkdir(staging, { mode: DIR_MODE });
    try {
      await writeFileSynced(join(staging, METADATA), data);
      try {
        await rename(staging, this.objectDir(key));
      } catch (err) {
        // Another process made the directory meanwhile (the object's own files, or a writer of
        // it): the object goes into it as any later write would.
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
        await writeObjectFile(this.objectDir(key), data);
        return;
      }
      await syncDir(kindPath);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  async delete(key: ObjectKey): Promise<void> {
    const dir = this.objectDir(key);
    const trash = join(
      this.kindPath(key.kind),
      `${TRASH_PREFIX}${key.uid}-${randomBytes(4).toString('hex')}`,
    );
    try {
      await rename(dir, trash);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw mapFsError(err, `${kindDir(key.kind)} "${key.uid}"`);
    }
    await rm(trash, { recursive: true, force: true });
  }

  private async entries(kind: Kind): Promise<string[]> {
    try {
      return await readdir(this.kindPath(kind));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw mapFsError(err, `${kindDir(kind)} store`);
    }
  }

  /**
   * Leftovers of deletes and first writes interrupted by a crash: removing them is safe and
   * keeps the store tidy. A first write's directory is left to its writer while that lives.
   */
  private async sweepLeftovers(kind: Kind, entries: string[]): Promise<void> {
    const dead = (e: string) => {
      const writer = NEW_DIR.exec(e)?.[1];
      return writer !== undefined && !isProcessAlive(Number(writer));
    };
    for (const e of entries.filter((e) => e.startsWith(TRASH_PREFIX) || dead(e))) {
      await rm(join(this.kindPath(kind), e), { recursive: true, force: true }).catch(
        () => undefined,
      );
    }
  }

  /**
   * Removes a directory without its object that no one is filling: one that holds nothing but
   * temp files of writers that are gone, or nothing at all for a while (a lock's directory made
   * for an object deleted meanwhile). A directory with anything else in it (a supervisor's log,
   * written before the VM is stored) is someone's, and stays.
   */
  private async sweepHalfWritten(key: ObjectKey): Promise<void> {
    const dir = this.objectDir(key);
    const names = await readdir(dir).catch(() => undefined);
    if (names === undefined) return;
    if (names.length === 0) {
      // Its maker may be about to fill it; one this old is no one's.
      const age = Date.now() - ((await stat(dir).catch(() => undefined))?.mtimeMs ?? Date.now());
      if (age < EMPTY_DIR_GRACE_MS) return;
    }
    const writers = names.map((n) => TMP_FILE.exec(n)?.[1]);
    if (writers.some((pid) => pid === undefined || isProcessAlive(Number(pid)))) return;
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }

  async list(kind: Kind): Promise<ObjectKey[]> {
    const entries = await this.entries(kind);
    const keys: ObjectKey[] = [];
    const checks = entries
      .filter((e) => isUID(e))
      .map(async (uid) => {
        const key = { kind, uid };
        if (await this.exists(key)) keys.push(key);
        else await this.sweepHalfWritten(key);
      });
    await Promise.all(checks);
    await this.sweepLeftovers(kind, entries);
    return keys.sort((a, b) => compareText(a.uid, b.uid));
  }

  /**
   * One open, fstat and read per object, synchronously: a thread-pool round trip for each of
   * several calls per object made listing a thousand VMs cost more than reading them. Writes
   * rename a new file into place, so the bytes read from an open file always match its fstat.
   */
  async readAll(kind: Kind): Promise<RawEntry[]> {
    const entries = await this.entries(kind);
    const out: RawEntry[] = [];
    for (const uid of entries.filter((e) => isUID(e)).sort()) {
      const entry = this.readEntry({ kind, uid });
      if (entry) out.push(entry);
      else await this.sweepHalfWritten({ kind, uid });
    }
    await this.sweepLeftovers(kind, entries);
    return out;
  }

  /** An object's bytes with their checksum, read at once; undefined when it has none. */
  private readEntry(key: ObjectKey): RawEntry | undefined {
    let fd: number;
    try {
      fd = openSync(this.file(key), 'r');
    } catch (err) {
      if (isAbsent(err)) return undefined;
      throw mapFsError(err, `${kindDir(key.kind)} "${key.uid}"`);
    }
    try {
      const st = fstatSync(fd, { bigint: true });
      const data = Buffer.allocUnsafe(Number(st.size));
      let off = 0;
      while (off < data.length) {
        const n = readSync(fd, data, off, data.length - off, off);
        if (n === 0) break;
        off += n;
      }
      return { key, data: data.subarray(0, off), checksum: checksumOf(st) };
    } catch (err) {
      throw mapFsError(err, `${kindDir(key.kind)} "${key.uid}"`);
    } finally {
      closeSync(fd);
    }
  }

  async checksum(key: ObjectKey): Promise<string | undefined> {
    try {
      return checksumOf(await stat(this.file(key), { bigint: true }));
    } catch (err) {
      if (isAbsent(err)) return undefined;
      throw mapFsError(err, `${kindDir(key.kind)} "${key.uid}"`);
    }
  }

  /** Polls checksums, reading only the objects they say changed (PollingWatch). */
  watch(kind: Kind, listener: RawWatchListener, options?: WatchOptions): Watch {
    const config = {
      kindDir: this.kindPath(kind),
      objectDir: (uid: string) => this.objectDir({ kind, uid }),
      objectFile: METADATA,
      checksum: (uid: string) => {
        try {
          return checksumOf(statSync(this.file({ kind, uid }), { bigint: true }));
        } catch (err) {
          if (isAbsent(err)) return undefined;
          throw mapFsError(err, `${kindDir(kind)} "${uid}"`);
        }
      },
      read: (uid: string) => this.readEntry({ kind, uid }),
      intervalMs: this.options.watchIntervalMs ?? WATCH_INTERVAL_MS,
      makeKindDir: async () => {
        await mkdir(this.kindPath(kind), { recursive: true, mode: DIR_MODE });
      },
    };
    return new PollingWatch(config, listener, options);
  }

  /** Holds no connection: each lock is released by its holder. */
  close(): Promise<void> {
    return Promise.resolve();
  }

  async withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T> {
    const dir = this.kindPath(kind);
    let release: () => Promise<void>;
    try {
      await mkdir(dir, { recursive: true, mode: DIR_MODE });
      release = await lockfile.lock(dir, {
        realpath: false,
        lockfilePath: join(dir, '.lock'),
        stale: 5000,
        update: 1000,
        retries: { retries: 400, factor: 1.2, minTimeout: 5, maxTimeout: 100, randomize: true },
      });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ELOCKED') {
        throw unavailable(`${kindDir(kind)} store: locked by another ignite process`, {
          cause: err,
          hint: 'retry in a moment',
        });
      }
      throw mapFsError(err, `${kindDir(kind)} store`);
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }
}

function isAbsent(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** The checksum of an object's file: its identity, which every replacing write changes. */
export function checksumOf(s: BigIntStats): string {
  return `${s.ino}:${s.mtimeNs}:${s.size}`;
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeFileSynced(path: string, data: Buffer): Promise<void> {
  const fh = await open(path, 'wx', FILE_MODE);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Replaces the object's file in its existing directory through a temp file renamed over it.
 * Fails with ENOENT, having written nothing, when the directory does not exist.
 */
async function writeObjectFile(dir: string, data: Buffer): Promise<void> {
  const tmp = join(dir, `.${METADATA}.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    await writeFileSynced(tmp, data);
    await rename(tmp, join(dir, METADATA));
    await syncDir(dir);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
