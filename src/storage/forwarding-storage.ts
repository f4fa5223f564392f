import type { APIObject, Kind, KindMap } from '../api/index.js';
import type { ObjectKey, Watch, WatchOptions } from './raw-storage.js';
import type { KnownObject, Storage, StoredChange, StoredEntry } from './storage.js';

/**
 * A Storage that hands every call to `inner`: the base of the decorators in the chain, each of
 * which overrides only the calls it changes.
 */
export abstract class ForwardingStorage implements Storage {
  constructor(protected readonly inner: Storage) {}

  get<K extends Kind>(kind: K, uid: string, known?: KnownObject<K>): Promise<KindMap[K]> {
    return this.inner.get(kind, uid, known);
  }

  set(obj: APIObject): Promise<void> {
    return this.inner.set(obj);
  }

  delete(kind: Kind, uid: string): Promise<void> {
    return this.inner.delete(kind, uid);
  }

  async list<K extends Kind>(kind: K): Promise<KindMap[K][]> {
    return (await this.entries(kind)).map((e) => e.obj);
  }

  entries<K extends Kind>(
    kind: K,
    known?: (uid: string, checksum: string) => KindMap[K] | undefined,
  ): Promise<StoredEntry<K>[]> {
    return this.inner.entries(kind, known);
  }

  exists(kind: Kind, uid: string): Promise<boolean> {
    return this.inner.exists(kind, uid);
  }

  checksum(kind: Kind, uid: string): Promise<string | undefined> {
    return this.inner.checksum(kind, uid);
  }

  keys(kind: Kind): Promise<ObjectKey[]> {
    return this.inner.keys(kind);
  }

  withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T> {
    return this.inner.withLock(kind, fn);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  watch<K extends Kind>(
    kind: K,
    listener: (change: StoredChange<K>) => void,
    options?: WatchOptions,
  ): Watch {
    return this.inner.watch(kind, listener, options);
  }
}
