import {
  applyDefaults,
  KINDS,
  newUID,
  normalizeImageRef,
  type Kind,
  type KindMap,
  type StoredKindMap,
} from '../api/index.js';
import { alreadyExists, invalidArgument, notFound } from '../errors.js';
import type { Watch, WatchOptions } from './raw-storage.js';
import type { KnownObject, Storage, StoredChange } from './storage.js';

/**
 * The top of the storage stack: typed access per kind, lookup by name or unique UID prefix, and
 * create/update sequences made safe against other processes with the per-kind lock.
 */
export class Client {
  readonly vms: KindClient<'VM'>;
  readonly images: KindClient<'Image'>;
  readonly kernels: KindClient<'Kernel'>;
  readonly snapshots: KindClient<'Snapshot'>;
  readonly hosts: KindClient<'Host'>;
  readonly volumes: KindClient<'Volume'>;
  readonly networks: KindClient<'Network'>;

  constructor(readonly storage: Storage) {
    this.vms = new KindClient(storage, 'VM');
    this.images = new KindClient(storage, 'Image');
    this.kernels = new KindClient(storage, 'Kernel');
    this.snapshots = new KindClient(storage, 'Snapshot');
    this.hosts = new KindClient(storage, 'Host');
    this.volumes = new KindClient(storage, 'Volume');
    this.networks = new KindClient(storage, 'Network');
  }

  /** Releases the store's connections and locks (RawStorage.close); the client is done after it. */
  close(): Promise<void> {
    return this.storage.close();
  }

  of<K extends Kind>(kind: K): KindClient<K> {
    const map = {
      VM: this.vms,
      Image: this.images,
      Kernel: this.kernels,
      Snapshot: this.snapshots,
      Host: this.hosts,
      Volume: this.volumes,
      Network: this.networks,
    } as const;
    return map[kind] as unknown as KindClient<K>;
  }

  static readonly kinds = KINDS;
}

/** An object of kind K as the store returns it: with its UID and name. */
export type StoredOf<K extends Kind> = StoredKindMap[K];

/** A change of a watched kind; for DELETED, `obj` is the object as last known. */
export type StoredChangeOf<K extends Kind> = Omit<StoredChange<K>, 'obj'> & { obj: StoredOf<K> };

/**
 * Typed access to one kind. Everything it returns was read back from the store, which checks
 * that each object has its UID and name (GenericStorage), so it is typed `Stored`.
 */
export class KindClient<K extends Kind> {
  constructor(
    private readonly storage: Storage,
    readonly kind: K,
  ) {}

  private get noun(): string {
    return this.kind.toLowerCase();
  }

  /** The stored object; `known` stands for it while its checksum is still the stored one. */
  get(uid: string, known?: KnownObject<K>): Promise<StoredOf<K>> {
    return this.storage.get(this.kind, uid, known) as Promise<StoredOf<K>>;
  }

  /**
   * get, with the checksum of the bytes it was decoded from: undefined when a write came between
   * (the object is then not known to be any one version), or the store keeps no checksum.
   */
  async getKnown(uid: string): Promise<(KnownObject<K> & { obj: StoredOf<K> }) | undefined> {
    const before = await this.storage.checksum(this.kind, uid);
    const obj = await this.get(uid);
    const after = await this.storage.checksum(this.kind, uid);
    return before !== undefined && before === after ? { checksum: after, obj } : undefined;
  }

  list(): Promise<StoredOf<K>[]> {
    return this.storage.list(this.kind) as Promise<StoredOf<K>[]>;
  }

  /**
   * Calls `listener` with every later change of this kind, from any process, until closed
   * (RawStorage.watch).
   *
   * @example
   * const w = client.vms.watch((c) => console.log(c.type, c.obj.metadata.name));
   * await w.ready;
   * // …
   * w.close();
   */
  watch(listener: (change: StoredChangeOf<K>) => void, options?: WatchOptions): Watch {
    return this.storage.watch(this.kind, listener as (change: StoredChange<K>) => void, options);
  }

  /**
   * Finds one object by exact UID or name, else by a prefix of either. An exact match wins over
   * prefix matches; several prefix matches are an error that lists them. For images and kernels,
   * the query is also tried as a normalized reference (`busybox` finds `docker.io/library/busybox:latest`).
   */
  async find(query: string): Promise<StoredOf<K>> {
    const matches = await this.match(query);
    if (matches.length === 1 && matches[0]) return matches[0];
    if (matches.length === 0) throw notFound(`${this.noun} "${query}": not found`);
    const list = matches.map((m) => `${m.metadata.uid} (${m.metadata.name})`).join(', ');
    throw invalidArgument(
      `${this.noun} "${query}": ambiguous, matches ${matches.length}: ${list}`,
      {
        hint: 'give more of the ID, or the full name',
      },
    );
  }

  /** Like find, but undefined when nothing matches. */
  async tryFind(query: string): Promise<StoredOf<K> | undefined> {
    try {
      return await this.find(query);
    } catch (err) {
      if ((err as { code?: string }).code === 'NotFound') return undefined;
      throw err;
    }
  }

  /** Every object that `query` could mean, exact matches alone when there are any. */
  async match(query: string): Promise<StoredOf<K>[]> {
    const all = await this.list();
    const names = new Set([query]);
    if (this.kind === 'Image' || this.kind === 'Kernel') {
      try {
        names.add(normalizeImageRef(query));
      } catch {
        // Not a reference: match on the raw query only.
      }
    }
    const exact = all.filter((o) => o.metadata.uid === query || names.has(o.metadata.name));
    if (exact.length > 0) return exact;
    if (query === '') return [];
    return all.filter((o) => o.metadata.uid.startsWith(query) || o.metadata.name.startsWith(query));
  }

  async findByName(name: string): Promise<StoredOf<K> | undefined> {
    return (await this.list()).find((o) => o.metadata.name === name);
  }

  /**
   * Stores a new object: assigns a UID when it has none, and refuses a name or UID already taken.
   * The check and the write happen under the kind's lock, so two processes cannot both win.
   */
  async create(obj: KindMap[K]): Promise<StoredOf<K>> {
    const name = obj.metadata.name;
    if (name === undefined || name === '')
      throw invalidArgument(`${this.noun}: a name is required`);
    return this.storage.withLock(this.kind, async () => {
      const all = await this.list();
      if (all.some((o) => o.metadata.name === name))
        throw alreadyExists(`${this.noun} "${name}": already exists`);
      if (obj.metadata.uid !== undefined && all.some((o) => o.metadata.uid === obj.metadata.uid)) {
        throw alreadyExists(`${this.noun} "${name}": uid ${obj.metadata.uid} already exists`);
      }
      if (obj.metadata.uid === undefined) {
        let uid = newUID();
        while (all.some((o) => o.metadata.uid === uid)) uid = newUID();
        obj.metadata.uid = uid;
      }
      await this.storage.set(obj);
      // What a read of it would return: defaulted, so with its status.
      return applyDefaults(obj) as StoredOf<K>;
    });
  }

  /** Writes an object that already exists as it is (last writer wins). Prefer update(). */
  async set(obj: KindMap[K]): Promise<void> {
    await this.storage.set(obj);
  }

  /**
   * Read-modify-write under the kind's lock, so concurrent updates from the CLI and a VM's
   * supervisor do not lose each other's fields. `mutate` may change the object in place.
   */
  async update(
    uid: string,
    mutate: (obj: StoredOf<K>) => void | Promise<void>,
  ): Promise<StoredOf<K>> {
    return this.storage.withLock(this.kind, async () => {
      const obj = await this.get(uid);
      await mutate(obj);
      await this.storage.set(obj);
      return obj;
    });
  }

  async delete(uid: string): Promise<void> {
    await this.storage.delete(this.kind, uid);
  }
}
