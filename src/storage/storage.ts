import { isStored, type APIObject, type Kind, type KindMap } from '../api/index.js';
import { internal } from '../errors.js';
import type {
  ObjectKey,
  RawStorage,
  RawWatchEvent,
  Watch,
  WatchEventType,
  WatchOptions,
} from './raw-storage.js';
import type { Serializer } from './serializer.js';

/**
 * An object as decoded from the bytes whose checksum it names: given to `get`, it stands for those
 * bytes, and is used instead of decoding them again while they are what is stored.
 */
export interface KnownObject<K extends Kind> {
  checksum: string;
  obj: KindMap[K];
}

/** Whether `known` stands for the object `kind`/`uid` whose bytes now have `checksum`. */
export function isKnownAs<K extends Kind>(
  known: KnownObject<K> | undefined,
  kind: K,
  uid: string,
  checksum: string | undefined,
): known is KnownObject<K> {
  return (
    known !== undefined &&
    checksum !== undefined &&
    known.checksum === checksum &&
    known.obj.kind === kind &&
    known.obj.metadata.uid === uid
  );
}

/** A listed object with the checksum its bytes were read at. */
export interface StoredEntry<K extends Kind> {
  uid: string;
  checksum: string;
  obj: KindMap[K];
}

/** One change of a watched kind, decoded. For DELETED, `obj` is the object as last known. */
export interface StoredChange<K extends Kind> {
  type: WatchEventType;
  uid: string;
  /** The checksum of the bytes `obj` was decoded from (StoredEntry's, for the same bytes). */
  checksum: string;
  obj: KindMap[K];
}

/**
 * Typed objects over RawStorage. `set` stamps `metadata.created` on first write. Objects are
 * stored as JSON, decoded strictly and defaulted on read.
 */
export interface Storage {
  /** `known` is returned as it is when the object's checksum is still its. */
  get<K extends Kind>(kind: K, uid: string, known?: KnownObject<K>): Promise<KindMap[K]>;
  set(obj: APIObject): Promise<void>;
  delete(kind: Kind, uid: string): Promise<void>;
  list<K extends Kind>(kind: K): Promise<KindMap[K][]>;
  /**
   * Every object of a kind with its checksum, sorted by uid. `known` may return the object
   * already decoded at that checksum, which is then used instead of decoding the bytes again.
   */
  entries<K extends Kind>(
    kind: K,
    known?: (uid: string, checksum: string) => KindMap[K] | undefined,
  ): Promise<StoredEntry<K>[]>;
  exists(kind: Kind, uid: string): Promise<boolean>;
  checksum(kind: Kind, uid: string): Promise<string | undefined>;
  keys(kind: Kind): Promise<ObjectKey[]>;
  withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T>;
  /** RawStorage.close. */
  close(): Promise<void>;
  /**
   * RawStorage.watch, decoded. A change whose bytes do not decode goes to `options.onError`
   * instead of the listener.
   */
  watch<K extends Kind>(
    kind: K,
    listener: (change: StoredChange<K>) => void,
    options?: WatchOptions,
  ): Watch;
}

export class GenericStorage implements Storage {
  constructor(
    private readonly raw: RawStorage,
    private readonly serializer: Serializer,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async get<K extends Kind>(kind: K, uid: string, known?: KnownObject<K>): Promise<KindMap[K]> {
    if (known !== undefined && isKnownAs(known, kind, uid, await this.raw.checksum({ kind, uid })))
      return known.obj;
    return this.decodeAs(kind, uid, await this.raw.read({ kind, uid }));
  }

  private decodeAs<K extends Kind>(kind: K, uid: string, bytes: Buffer): KindMap[K] {
    const obj = this.serializer.decode(bytes, {
      source: `${kind.toLowerCase()}/${uid}/metadata.json`,
    });
    if (obj.kind !== kind)
      throw internal(`${kind.toLowerCase()} "${uid}": stored object is a ${obj.kind}`);
    // Its key is its UID; the client hands out objects with both UID and name (Stored<T>).
    obj.metadata.uid ??= uid;
    if (!isStored(obj)) throw internal(`${kind.toLowerCase()} "${uid}": stored without a name`);
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
    return (await this.entries(kind)).map((e) => e.obj);
  }

  async entries<K extends Kind>(
    kind: K,
    known?: (uid: string, checksum: string) => KindMap[K] | undefined,
  ): Promise<StoredEntry<K>[]> {
    return (await this.raw.readAll(kind)).map(({ key, data, checksum }) => ({
      uid: key.uid,
      checksum,
      obj: known?.(key.uid, checksum) ?? this.decodeAs(kind, key.uid, data),
    }));
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

  close(): Promise<void> {
    return this.raw.close();
  }

  watch<K extends Kind>(
    kind: K,
    listener: (change: StoredChange<K>) => void,
    options: WatchOptions = {},
  ): Watch {
    const onRaw = (e: RawWatchEvent): void => {
      let obj: KindMap[K];
      try {
        obj = this.decodeAs(kind, e.key.uid, e.data);
      } catch (err) {
        options.onError?.(err);
        return;
      }
      listener({ type: e.type, uid: e.key.uid, checksum: e.checksum, obj });
    };
    return this.raw.watch(kind, onRaw, options);
  }
}
