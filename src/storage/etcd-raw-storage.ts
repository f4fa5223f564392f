import type { ComparatorBuilder, Etcd3, IKeyValue } from 'etcd3';
import { compareText, isUID, kindDir, type Kind } from '../api/index.js';
import { alreadyExists, notFound, unavailable } from '../errors.js';
import { EtcdConnection, type EtcdConfig } from './etcd-connection.js';
import { EtcdLocks, type HeldLock } from './etcd-lock.js';
import { EtcdWatch } from './etcd-watch.js';
import type {
  ObjectKey,
  RawEntry,
  RawStorage,
  RawWatchListener,
  Watch,
  WatchOptions,
} from './raw-storage.js';

export interface EtcdRawStorageOptions extends EtcdConfig {
  /** Where ignite's keys start (default `/ignite/`); tests give each store its own. */
  root?: string;
  /** The TTL of the lease behind this process's locks (default 10 s). */
  leaseTTLSeconds?: number;
  /** How long withLock waits for another process's lock (default 30 s). */
  lockWaitMs?: number;
}

/** Starts a transaction that requires `key` at mod revision `revision` (0: absent). */
type Begin = (key: string, revision: string | number) => ComparatorBuilder;

/** Conflicting writers retry a write this many times before it fails as Unavailable. */
const MAX_ATTEMPTS = 50;

/**
 * RawStorage on etcd v3. Keys (under `/ignite/`):
 * - `<kind>/<uid>` (`vm/0123456789abcdef`): the object's serialized bytes. Its mod revision is
 *   its checksum.
 * - `names/<kind>/<name>` → uid: the name index, for objects whose bytes are JSON with a
 *   `metadata.name`. It changes in the same transaction as the object, and a write that would
 *   give a name a second object fails with AlreadyExists.
 * - `locks/<kind>/<lease>`: withLock's queue (EtcdLocks).
 *
 * Every write and delete is one transaction on the mod revisions it read (the object's and its
 * name's), retried when another writer came between; made under withLock, it also requires that
 * the lock is still held, so a holder whose lease expired cannot overwrite its successor's work.
 * An object's files (disks, sockets, logs) stay on the host that runs it, in its data dir.
 */
export class EtcdRawStorage implements RawStorage {
  private readonly conn: EtcdConnection;
  private readonly root: string;
  private readonly locks: EtcdLocks;

  constructor(options: EtcdRawStorageOptions) {
    this.conn = new EtcdConnection(options);
    this.root = options.root ?? '/ignite/';
    this.locks = new EtcdLocks(this.conn, `${this.root}locks/`, {
      leaseTTLSeconds: options.leaseTTLSeconds ?? 10,
      waitMs: options.lockWaitMs ?? 30_000,
    });
  }

  private prefix(kind: Kind): string {
    return `${this.root}${kindDir(kind)}/`;
  }

  private objectKey(key: ObjectKey): string {
    return `${this.prefix(key.kind)}${key.uid}`;
  }

  private nameKey(kind: Kind, name: string): string {
    return `${this.root}names/${kindDir(kind)}/${name}`;
  }

  private label(key: ObjectKey): string {
    return `${kindDir(key.kind)} "${key.uid}"`;
  }

  private async get(what: string, key: string): Promise<IKeyValue | undefined> {
    const res = await this.conn.call(what, (etcd) => etcd.get(key).exec());
    return res.kvs[0];
  }

  async read(key: ObjectKey): Promise<Buffer> {
    const kv = await this.get(this.label(key), this.objectKey(key));
    if (!kv) throw notFound(`${this.label(key)}: not found`);
    return Buffer.from(kv.value);
  }

  async exists(key: ObjectKey): Promise<boolean> {
    return (await this.checksum(key)) !== undefined;
  }

  async checksum(key: ObjectKey): Promise<string | undefined> {
    return (await this.get(this.label(key), this.objectKey(key)))?.mod_revision;
  }

  async list(kind: Kind): Promise<ObjectKey[]> {
    const prefix = this.prefix(kind);
    const keys = await this.conn.call(`${kindDir(kind)} store`, (etcd) =>
      etcd.getAll().prefix(prefix).keys(),
    );
    return keys
      .map((k) => k.slice(prefix.length))
      .filter((uid) => isUID(uid))
      .sort(compareText)
      .map((uid) => ({ kind, uid }));
  }

  async readAll(kind: Kind): Promise<RawEntry[]> {
    const prefix = this.prefix(kind);
    const res = await this.conn.call(`${kindDir(kind)} store`, (etcd) =>
      etcd.getAll().prefix(prefix).exec(),
    );
    return res.kvs
      .map((kv) => ({
        key: { kind, uid: kv.key.toString().slice(prefix.length) },
        data: Buffer.from(kv.value),
        checksum: kv.mod_revision,
      }))
      .filter((e) => isUID(e.key.uid))
      .sort((a, b) => compareText(a.key.uid, b.key.uid));
  }

  async write(key: ObjectKey, data: Buffer): Promise<void> {
    const name = nameOf(data);
    await this.retry(key, `${this.label(key)}: write`, async (etcd, begin) => {
      const objectKey = this.objectKey(key);
      const nameKey = name === undefined ? undefined : this.nameKey(key.kind, name);
      const [cur, index] = await Promise.all([
        etcd.get(objectKey).exec(),
        nameKey === undefined ? undefined : etcd.get(nameKey).exec(),
      ]);
      const curKV = cur.kvs[0];
      const indexKV = index?.kvs[0];
      if (indexKV !== undefined && indexKV.value.toString() !== key.uid) {
        throw alreadyExists(
          `${kindDir(key.kind)} "${name ?? ''}": already exists (uid ${indexKV.value.toString()})`,
        );
      }
      const txn = begin(objectKey, curKV?.mod_revision ?? 0);
      const ops = [etcd.put(objectKey).value(data)];
      if (nameKey !== undefined) {
        txn.and(nameKey, 'Mod', '==', indexKV?.mod_revision ?? 0);
        if (indexKV === undefined) ops.push(etcd.put(nameKey).value(key.uid));
      }
      const oldName = curKV === undefined ? undefined : nameOf(curKV.value);
      const deletes = [];
      if (oldName !== undefined && oldName !== name) {
        const oldKey = this.nameKey(key.kind, oldName);
        const old = (await etcd.get(oldKey).exec()).kvs[0];
        if (old !== undefined && old.value.toString() === key.uid) {
          txn.and(oldKey, 'Mod', '==', old.mod_revision);
          deletes.push(etcd.delete().key(oldKey));
        }
      }
      return (await txn.then(...ops, ...deletes).commit()).succeeded;
    });
  }

  async delete(key: ObjectKey): Promise<void> {
    await this.retry(key, `${this.label(key)}: delete`, async (etcd, begin) => {
      const objectKey = this.objectKey(key);
      const cur = (await etcd.get(objectKey).exec()).kvs[0];
      if (cur === undefined) return true;
      const txn = begin(objectKey, cur.mod_revision);
      const ops = [etcd.delete().key(objectKey)];
      const name = nameOf(cur.value);
      if (name !== undefined) {
        const nameKey = this.nameKey(key.kind, name);
        const index = (await etcd.get(nameKey).exec()).kvs[0];
        if (index !== undefined && index.value.toString() === key.uid) {
          txn.and(nameKey, 'Mod', '==', index.mod_revision);
          ops.push(etcd.delete().key(nameKey));
        }
      }
      return (await txn.then(...ops).commit()).succeeded;
    });
  }

  /**
   * Runs one optimistic attempt (reads, then a transaction on what was read) until it commits.
   * Under withLock, the transaction also requires the lock's key, and a lost lock is an error.
   */
  private async retry(
    key: ObjectKey,
    what: string,
    attempt: (etcd: Etcd3, begin: Begin) => Promise<boolean>,
  ): Promise<void> {
    const fence = this.locks.held(key.kind);
    const begin =
      (etcd: Etcd3): Begin =>
      (k, revision) => {
        const txn = etcd.if(k, 'Mod', '==', revision);
        return fence === undefined ? txn : txn.and(fence.key, 'Create', '==', fence.createRevision);
      };
    for (let i = 0; i < MAX_ATTEMPTS; i++) {
      if (await this.conn.call(what, (etcd) => attempt(etcd, begin(etcd)))) return;
      if (fence !== undefined && !(await this.stillHeld(fence)))
        throw unavailable(`${what}: not done, the ${kindDir(key.kind)} lock was lost`, {
          hint: 'its lease expired (etcd unreachable for longer than its TTL); retry',
        });
    }
    throw unavailable(`${what}: other writers kept changing it; not done`, { hint: 'retry' });
  }

  private async stillHeld(lock: HeldLock): Promise<boolean> {
    const kv = await this.get(`${kindDir(lock.kind)} lock`, lock.key);
    return kv?.create_revision === lock.createRevision;
  }

  withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(kind, fn);
  }

  watch(kind: Kind, listener: RawWatchListener, options?: WatchOptions): Watch {
    return new EtcdWatch(this.conn, this.prefix(kind), kind, listener, options);
  }

  /** Releases this process's locks and closes the connection. */
  async close(): Promise<void> {
    await this.locks.close();
    await this.conn.close();
  }
}

/** `metadata.name` of JSON bytes; undefined for anything else. */
function nameOf(data: Buffer): string | undefined {
  if (data[0] !== 0x7b) return undefined;
  try {
    const name = (JSON.parse(data.toString()) as { metadata?: { name?: unknown } }).metadata?.name;
    return typeof name === 'string' && name !== '' ? name : undefined;
  } catch {
    return undefined;
  }
}
