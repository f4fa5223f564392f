import type { Kind } from '../api/index.js';
import type {
  ObjectKey,
  RawEntry,
  RawStorage,
  RawWatchListener,
  Watch,
  WatchOptions,
} from './raw-storage.js';

/**
 * Two stores behind one: the kinds in `localKinds` go to `local`, every other kind to `shared`.
 * A fleet shares its VMs and hosts in etcd, while each host keeps the images, kernels and
 * snapshots it has: their objects describe files that exist only in that host's data dir, so a
 * shared record of them would claim files other hosts do not have.
 */
export class KindRoutedRawStorage implements RawStorage {
  private readonly local: ReadonlySet<Kind>;

  constructor(
    private readonly routes: { shared: RawStorage; local: RawStorage; localKinds: Kind[] },
  ) {
    this.local = new Set(routes.localKinds);
  }

  private of(kind: Kind): RawStorage {
    return this.local.has(kind) ? this.routes.local : this.routes.shared;
  }

  read(key: ObjectKey): Promise<Buffer> {
    return this.of(key.kind).read(key);
  }

  exists(key: ObjectKey): Promise<boolean> {
    return this.of(key.kind).exists(key);
  }

  write(key: ObjectKey, data: Buffer): Promise<void> {
    return this.of(key.kind).write(key, data);
  }

  delete(key: ObjectKey): Promise<void> {
    return this.of(key.kind).delete(key);
  }

  list(kind: Kind): Promise<ObjectKey[]> {
    return this.of(kind).list(kind);
  }

  readAll(kind: Kind): Promise<RawEntry[]> {
    return this.of(kind).readAll(kind);
  }

  checksum(key: ObjectKey): Promise<string | undefined> {
    return this.of(key.kind).checksum(key);
  }

  withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T> {
    return this.of(kind).withLock(kind, fn);
  }

  watch(kind: Kind, listener: RawWatchListener, options?: WatchOptions): Watch {
    return this.of(kind).watch(kind, listener, options);
  }

  async close(): Promise<void> {
    await Promise.all([this.routes.shared.close(), this.routes.local.close()]);
  }
}
