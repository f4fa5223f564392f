import { compareText, type Kind } from '../api/index.js';
import { notFound } from '../errors.js';
import type { ObjectKey, RawEntry, RawStorage } from './raw-storage.js';
import { Mutex } from './mutex.js';

/** RawStorage in memory, for tests and dry runs. One process only. */
export class MemoryRawStorage implements RawStorage {
  private readonly data = new Map<string, { bytes: Buffer; version: number }>();
  private readonly locks = new Map<Kind, Mutex>();
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
    this.data.set(MemoryRawStorage.id(key), { bytes: Buffer.from(data), version: ++this.version });
    return Promise.resolve();
  }

  delete(key: ObjectKey): Promise<void> {
    this.data.delete(MemoryRawStorage.id(key));
    return Promise.resolve();
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

  withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T> {
    let m = this.locks.get(kind);
    if (!m) {
      m = new Mutex();
      this.locks.set(kind, m);
    }
    return m.run(fn);
  }
}
