import { mkdir, rm } from 'node:fs/promises';
import type { Kind } from '../api/index.js';
import { mapFsError } from './fs-errors.js';
import { DataLayout } from './layout.js';
import type {
  ObjectKey,
  RawEntry,
  RawStorage,
  RawWatchListener,
  Watch,
  WatchOptions,
} from './raw-storage.js';

/**
 * A store kept elsewhere (etcd) with each object's directory in this host's data dir, as the fs
 * store has it: a write makes `<dataDir>/<kind>/<uid>/` for the object's files (a VM's disk,
 * sockets and logs, an image's ext4), and a delete removes that directory with the object. The
 * directory is this host's: another host's copy of an object's files is its own to remove.
 */
export class ObjectDirsRawStorage implements RawStorage {
  private readonly layout: DataLayout;

  constructor(
    private readonly inner: RawStorage,
    dataDir: string,
  ) {
    this.layout = new DataLayout(dataDir);
  }

  async write(key: ObjectKey, data: Buffer): Promise<void> {
    const dir = this.layout.objectDir(key.kind, key.uid);
    await mkdir(dir, { recursive: true, mode: 0o700 }).catch((err: unknown) => {
      throw mapFsError(err, `${key.kind.toLowerCase()} "${key.uid}"`);
    });
    await this.inner.write(key, data);
  }

  async delete(key: ObjectKey): Promise<void> {
    await this.inner.delete(key);
    await rm(this.layout.objectDir(key.kind, key.uid), { recursive: true, force: true });
  }

  read(key: ObjectKey): Promise<Buffer> {
    return this.inner.read(key);
  }

  exists(key: ObjectKey): Promise<boolean> {
    return this.inner.exists(key);
  }

  list(kind: Kind): Promise<ObjectKey[]> {
    return this.inner.list(kind);
  }

  readAll(kind: Kind): Promise<RawEntry[]> {
    return this.inner.readAll(kind);
  }

  checksum(key: ObjectKey): Promise<string | undefined> {
    return this.inner.checksum(key);
  }

  withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T> {
    return this.inner.withLock(kind, fn);
  }

  watch(kind: Kind, listener: RawWatchListener, options?: WatchOptions): Watch {
    return this.inner.watch(kind, listener, options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
