import type { APIObject, Kind, KindMap } from '../api/index.js';
import { ForwardingStorage } from './forwarding-storage.js';
import { isKnownAs, type KnownObject, type StoredEntry } from './storage.js';

/**
 * A read cache over Storage. Each entry remembers the checksum it was read at; a read whose
 * checksum differs (another process wrote) reloads. Writes go through.
 */
export class CachedStorage extends ForwardingStorage {
  /** By kind and uid: the checksum last seen, and a private copy once it is worth keeping. */
  private readonly cached = new Map<string, { checksum: string; obj?: APIObject }>();

  private static id(kind: Kind, uid: string): string {
    return `${kind}/${uid}`;
  }

  override async get<K extends Kind>(
    kind: K,
    uid: string,
    known?: KnownObject<K>,
  ): Promise<KindMap[K]> {
    const id = CachedStorage.id(kind, uid);
    const sum = await this.inner.checksum(kind, uid);
    const hit = this.cached.get(id);
    if (sum !== undefined && hit?.obj !== undefined && hit.checksum === sum)
      return structuredCloneObject(hit.obj) as KindMap[K];
    if (sum !== undefined && isKnownAs(known, kind, uid, sum)) {
      this.cached.set(id, { checksum: sum, obj: structuredCloneObject(known.obj) });
      return known.obj;
    }
    const obj = await this.inner.get(kind, uid);
    const after = await this.inner.checksum(kind, uid);
    if (after !== undefined && after === sum)
      this.cached.set(id, { checksum: after, obj: structuredCloneObject(obj) });
    else this.cached.delete(id);
    return obj;
  }

  override async set(obj: APIObject): Promise<void> {
    await this.inner.set(obj);
    // The next read fetches the stored bytes again, which also proves they decode.
    if (obj.metadata.uid !== undefined)
      this.cached.delete(CachedStorage.id(obj.kind, obj.metadata.uid));
  }

  override async delete(kind: Kind, uid: string): Promise<void> {
    await this.inner.delete(kind, uid);
    this.cached.delete(CachedStorage.id(kind, uid));
  }

  /**
   * Listed objects the cache holds a copy of at their checksum are not decoded again. A listing
   * remembers each object's checksum, and keeps a copy of one it lists again unchanged: a
   * one-shot listing (a CLI's) copies nothing, a repeated one (a reconciler's) decodes once more.
   */
  override async entries<K extends Kind>(
    kind: K,
    known?: (uid: string, checksum: string) => KindMap[K] | undefined,
  ): Promise<StoredEntry<K>[]> {
    const listed = await this.inner.entries(kind, (uid, checksum) => {
      const hit = this.cached.get(CachedStorage.id(kind, uid));
      if (hit?.obj !== undefined && hit.checksum === checksum)
        return structuredCloneObject(hit.obj) as KindMap[K];
      return known?.(uid, checksum);
    });
    const live = new Set(listed.map((e) => CachedStorage.id(kind, e.uid)));
    for (const id of this.cached.keys())
      if (id.startsWith(`${kind}/`) && !live.has(id)) this.cached.delete(id);
    for (const e of listed) {
      const id = CachedStorage.id(kind, e.uid);
      const prev = this.cached.get(id);
      if (prev?.checksum !== e.checksum) this.cached.set(id, { checksum: e.checksum });
      else if (prev.obj === undefined)
        this.cached.set(id, { checksum: e.checksum, obj: structuredCloneObject(e.obj) });
    }
    return listed;
  }

  /** Drops every cached entry. */
  flush(): void {
    this.cached.clear();
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
