import type { APIObject, Kind, KindMap } from '../api/index.js';
import type { ObjectKey } from './raw-storage.js';
import type { Storage } from './storage.js';
import { readAll } from './read-all.js';

/**
 * A read cache over Storage. Each entry remembers the checksum it was read at; a read whose
 * checksum differs (another process wrote) reloads. Writes go through.
 */
export class CachedStorage implements Storage {
  private readonly entries = new Map<string, { checksum: string; obj: APIObject }>();

  constructor(private readonly inner: Storage) {}

  private static id(kind: Kind, uid: string): string {
    return `${kind}/${uid}`;
  }

  async get<K extends Kind>(kind: K, uid: string): Promise<KindMap[K]> {
    const id = CachedStorage.id(kind, uid);
    const sum = await this.inner.checksum(kind, uid);
    const hit = this.entries.get(id);
    if (sum !== undefined && hit && hit.checksum === sum)
      return structuredCloneObject(hit.obj) as KindMap[K];
    const obj = await this.inner.get(kind, uid);
    const after = await this.inner.checksum(kind, uid);
    if (after !== undefined && after === sum)
      this.entries.set(id, { checksum: after, obj: structuredCloneObject(obj) });
    else this.entries.delete(id);
    return obj;
  }

  async set(obj: APIObject): Promise<void> {
    await this.inner.set(obj);
    // The next read fetches the stored bytes again, which also proves they decode.
    if (obj.metadata.uid !== undefined)
      this.entries.delete(CachedStorage.id(obj.kind, obj.metadata.uid));
  }

  async delete(kind: Kind, uid: string): Promise<void> {
    await this.inner.delete(kind, uid);
    this.entries.delete(CachedStorage.id(kind, uid));
  }

  async list<K extends Kind>(kind: K): Promise<KindMap[K][]> {
    const keys = await this.inner.keys(kind);
    const live = new Set(keys.map((k) => CachedStorage.id(k.kind, k.uid)));
    for (const id of this.entries.keys())
      if (id.startsWith(`${kind}/`) && !live.has(id)) this.entries.delete(id);
    return readAll(
      keys.map((k) => k.uid),
      (uid) => this.get(kind, uid),
    );
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

  objectDir(kind: Kind, uid: string): string | undefined {
    return this.inner.objectDir(kind, uid);
  }

  /** Drops every cached entry. */
  flush(): void {
    this.entries.clear();
  }
}

/** Objects hold Size instances, which structuredClone would strip of their class. */
function structuredCloneObject(obj: APIObject): APIObject {
  return cloneValue(obj) as APIObject;
}

function cloneValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(cloneValue);
  if (v !== null && typeof v === 'object') {
    if (Object.getPrototypeOf(v) !== Object.prototype) return v; // immutable value types (Size)
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) out[k] = cloneValue(val);
    return out;
  }
  return v;
}
