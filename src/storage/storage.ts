import type { APIObject, Kind, KindMap } from '../api/index.js';
import { internal } from '../errors.js';
import type { ObjectKey, RawStorage } from './raw-storage.js';
import type { Serializer } from './serializer.js';
import { readAll } from './read-all.js';

/**
 * Typed objects over RawStorage. `set` stamps `metadata.created` on first write. Objects are
 * stored as JSON, decoded strictly and defaulted on read.
 */
export interface Storage {
  get<K extends Kind>(kind: K, uid: string): Promise<KindMap[K]>;
  set(obj: APIObject): Promise<void>;
  delete(kind: Kind, uid: string): Promise<void>;
  list<K extends Kind>(kind: K): Promise<KindMap[K][]>;
  exists(kind: Kind, uid: string): Promise<boolean>;
  checksum(kind: Kind, uid: string): Promise<string | undefined>;
  keys(kind: Kind): Promise<ObjectKey[]>;
  withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T>;
  /** Where the object's files live, when storage is on a filesystem. */
  objectDir(kind: Kind, uid: string): string | undefined;
}

export class GenericStorage implements Storage {
  constructor(
    private readonly raw: RawStorage,
    private readonly serializer: Serializer,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get<K extends Kind>(kind: K, uid: string): Promise<KindMap[K]> {
    const bytes = await this.raw.read({ kind, uid });
    const obj = this.serializer.decode(bytes, {
      source: `${kind.toLowerCase()}/${uid}/metadata.json`,
    });
    if (obj.kind !== kind)
      throw internal(`${kind.toLowerCase()} "${uid}": stored object is a ${obj.kind}`);
    return obj as KindMap[K];
  }

  async set(obj: APIObject): Promise<void> {
    const uid = obj.metadata.uid;
    if (uid === undefined)
      throw internal(
        `${obj.kind.toLowerCase()} "${obj.metadata.name ?? ''}": cannot store without a uid`,
      );
    if (obj.metadata.created === undefined) obj.metadata.created = this.now().toISOString();
    await this.raw.write({ kind: obj.kind, uid }, Buffer.from(this.serializer.encode(obj, 'json')));
  }

  delete(kind: Kind, uid: string): Promise<void> {
    return this.raw.delete({ kind, uid });
  }

  async list<K extends Kind>(kind: K): Promise<KindMap[K][]> {
    const keys = await this.raw.list(kind);
    return readAll(
      keys.map((k) => k.uid),
      (uid) => this.get(kind, uid),
    );
  }

  exists(kind: Kind, uid: string): Promise<boolean> {
    return this.raw.exists({ kind, uid });
  }

  checksum(kind: Kind, uid: string): Promise<string | undefined> {
    return this.raw.checksum({ kind, uid });
  }

  keys(kind: Kind): Promise<ObjectKey[]> {
    return this.raw.list(kind);
  }

  withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T> {
    return this.raw.withLock(kind, fn);
  }

  objectDir(kind: Kind, uid: string): string | undefined {
    return this.raw.objectDir({ kind, uid });
  }
}
