import { compareText, type Kind } from '../api/index.js';
import { notFound } from '../errors.js';
import type {
  ObjectKey,
  RawEntry,
  RawStorage,
  RawWatchEvent,
  RawWatchListener,
  Watch,
  WatchOptions,
} from './raw-storage.js';
import { Mutex } from './mutex.js';

/** RawStorage in memory, for tests and dry runs. One process only. */
export class MemoryRawStorage implements RawStorage {
  private readonly data = new Map<string, { bytes: Buffer; version: number }>();
  private readonly locks = new Map<Kind, Mutex>();
  private readonly watchers = new Set<{
    kind: Kind;
    listener: RawWatchListener;
    options: WatchOptions;
  }>();
  private version = 0;

  private static id(key: ObjectKey): string {
    return `${key.kind}/${key.uid}`;
  }

  read(key: ObjectKey): Promise<Buffer> {
    const entry = this.data.get(MemoryRawStorage.id(key));
    if (!entry)
      return Promise.reject(notFound(`${key.kind.toLowerCase()} "${key.uid}": not found`));
    return Promise.resolve(Buffer.from(entry.bytes));
  }

  exists(key: ObjectKey): Promise<boolean> {
    return Promise.resolve(this.data.has(MemoryRawStorage.id(key)));
  }

  write(key: ObjectKey, data: Buffer): Promise<void> {
    const id = MemoryRawStorage.id(key);
    const existed = this.data.has(id);
    const entry = { bytes: Buffer.from(data), version: ++this.version };
    this.data.set(id, entry);
    this.notify(key, existed ? 'MODIFIED' : 'ADDED', entry);
    return Promise.resolve();
  }

  delete(key: ObjectKey): Promise<void> {
    const id = MemoryRawStorage.id(key);
    const entry = this.data.get(id);
    this.data.delete(id);
    if (entry) this.notify(key, 'DELETED', entry);
    return Promise.resolve();
  }

  /**
   * Listeners are called during the write or delete itself, in the order watches were made; with
   * `initial`, during this call for the objects there are.
   */
  watch(kind: Kind, listener: RawWatchListener, options: WatchOptions = {}): Watch {
    const w = { kind, listener, options };
    this.watchers.add(w);
    if (options.initial === true) {
      const keys = [...this.data.keys()]
        .map((id) => id.split('/'))
        .flatMap(([k, uid]) => (k === kind && uid !== undefined ? [uid] : []))
        .sort(compareText);
      for (const uid of keys) {
        const entry = this.data.get(MemoryRawStorage.id({ kind, uid }));
        if (entry) this.notifyOne(w, { kind, uid }, 'ADDED', entry);
      }
    }
    return {
      ready: Promise.resolve(),
      close: () => {
        this.watchers.delete(w);
      },
    };
  }

  private notify(
    key: ObjectKey,
    type: RawWatchEvent['type'],
    entry: { bytes: Buffer; version: number },
  ): void {
    for (const w of [...this.watchers])
      if (w.kind === key.kind && this.watchers.has(w)) this.notifyOne(w, key, type, entry);
  }

  private notifyOne(
    w: { listener: RawWatchListener; options: WatchOptions },
    key: ObjectKey,
    type: RawWatchEvent['type'],
    entry: { bytes: Buffer; version: number },
  ): void {
    try {
      w.listener({
        type,
        key: { ...key },
        data: Buffer.from(entry.bytes),
        checksum: String(entry.version),
      });
    } catch (err) {
      w.options.onError?.(err);
    }
  }

  list(kind: Kind): Promise<ObjectKey[]> {
    const keys: ObjectKey[] = [];
    for (const id of this.data.keys()) {
      const [k, uid] = id.split('/');
      if (k === kind && uid !== undefined) keys.push({ kind, uid });
    }
    return Promise.resolve(keys.sort((a, b) => compareText(a.uid, b.uid)));
  }

  async readAll(kind: Kind): Promise<RawEntry[]> {
    return (await this.list(kind)).flatMap((key) => {
      const entry = this.data.get(MemoryRawStorage.id(key));
      return entry
        ? [{ key, data: Buffer.from(entry.bytes), checksum: String(entry.version) }]
        : [];
    });
  }

  checksum(key: ObjectKey): Promise<string | undefined> {
    const entry = this.data.get(MemoryRawStorage.id(key));
    return Promise.resolve(entry ? String(entry.version) : undefined);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T> {
    let m = this.locks.get(kind);
    if (!m) {
      m = new Mutex();
      this.locks.set(kind, m);
    }
    return m.run(fn);
  }
}
