import { AsyncLocalStorage } from 'node:async_hooks';
import type { IKeyValue, Lease } from 'etcd3';
import { kindDir, type Kind } from '../api/index.js';
import { unavailable } from '../errors.js';
import type { EtcdConnection } from './etcd-connection.js';
import { Mutex } from './mutex.js';

/** A lock this process holds: its key in etcd and the revision that created it. */
export interface HeldLock {
  kind: Kind;
  key: string;
  createRevision: string;
  /** Set once released: work that outlives its holder is not fenced by a lock it no longer has. */
  released: boolean;
}

export interface EtcdLocksOptions {
  /** The TTL of the lease behind this process's locks: how long a crashed holder blocks others. */
  leaseTTLSeconds: number;
  /** How long a caller waits for the lock before it fails as Unavailable. */
  waitMs: number;
}

/**
 * Per-kind locks across processes, after etcd's lock recipe: each waiter puts a key under
 * `<prefix><kind>/` bound to its process's lease, and holds the lock once no waiter's key is
 * older. Waiters queue in creation order, each watching the one ahead of it. The lease is kept
 * alive while the process lives; a killed holder's key goes with its lease after the TTL.
 * Within the process, holders of one kind queue on a mutex first, so a process has at most one
 * key per kind.
 */
export class EtcdLocks {
  private readonly local = new Map<Kind, Mutex>();
  private readonly context = new AsyncLocalStorage<HeldLock>();
  private lease: Promise<{ lease: Lease; id: string }> | undefined;

  constructor(
    private readonly conn: EtcdConnection,
    private readonly prefix: string,
    private readonly options: EtcdLocksOptions,
  ) {}

  /** Runs `fn` holding the kind's lock; writes it makes can be fenced with `held(kind)`. */
  run<T>(kind: Kind, fn: () => Promise<T>): Promise<T> {
    let m = this.local.get(kind);
    if (!m) {
      m = new Mutex();
      this.local.set(kind, m);
    }
    return m.run(async () => {
      const lock = await this.acquire(kind);
      try {
        return await this.context.run(lock, fn);
      } finally {
        lock.released = true;
        await this.conn
          .call(`${kindDir(kind)} lock`, (etcd) => etcd.delete().key(lock.key).exec())
          .catch(() => undefined);
      }
    });
  }

  /** The lock of `kind` that the calling code runs under, if any. */
  held(kind: Kind): HeldLock | undefined {
    const lock = this.context.getStore();
    return lock !== undefined && lock.kind === kind && !lock.released ? lock : undefined;
  }

  /** Revokes the lease, which drops every key of this process at once. */
  async close(): Promise<void> {
    const l = this.lease;
    this.lease = undefined;
    const session = await l?.catch(() => undefined);
    if (!session) return;
    await this.conn.call('revoke lease', () => session.lease.revoke()).catch(() => undefined);
  }

  /** This process's lease, granted on first use and again after it is lost. */
  private async session(what: string): Promise<{ lease: Lease; id: string }> {
    if (!this.lease) {
      const entry = this.conn.call(what, async (etcd) => {
        const lease = etcd.lease(this.options.leaseTTLSeconds);
        lease.on('lost', () => {
          if (this.lease === entry) this.lease = undefined;
        });
        return { lease, id: await lease.grant() };
      });
      this.lease = entry;
      entry.catch(() => {
        if (this.lease === entry) this.lease = undefined;
      });
    }
    return this.lease;
  }

  private async acquire(kind: Kind): Promise<HeldLock> {
    const what = `${kindDir(kind)} lock`;
    const dir = `${this.prefix}${kindDir(kind)}/`;
    const s = await this.session(what);
    const key = `${dir}${s.id}`;
    await this.conn.call(what, () => s.lease.put(key).value('').exec());
    const deadline = Date.now() + this.options.waitMs;
    try {
      for (;;) {
        const res = await this.conn.call(what, (etcd) => etcd.getAll().prefix(dir).exec());
        const mine = res.kvs.find((kv) => kv.key.toString() === key);
        if (!mine) throw unavailable(`${what}: lost while waiting (its lease expired)`);
        const ahead = res.kvs
          .filter((kv) => BigInt(kv.create_revision) < BigInt(mine.create_revision))
          .sort((a, b) => Number(BigInt(b.create_revision) - BigInt(a.create_revision)))[0];
        if (!ahead) return { kind, key, createRevision: mine.create_revision, released: false };
        await this.waitDeleted(ahead, BigInt(res.header.revision) + 1n, deadline, what);
      }
    } catch (err) {
      await this.conn.call(what, (etcd) => etcd.delete().key(key).exec()).catch(() => undefined);
      throw err;
    }
  }

  /** Resolves once `kv` is deleted at or after `fromRevision`; fails at `deadline`. */
  private async waitDeleted(
    kv: IKeyValue,
    fromRevision: bigint,
    deadline: number,
    what: string,
  ): Promise<void> {
    const watcher = await this.conn.call(what, (etcd) =>
      etcd.watch().key(kv.key).startRevision(String(fromRevision)).only('delete').create(),
    );
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => {
            reject(
              unavailable(`${what}: held by another ignite process for too long`, {
                hint: 'retry in a moment; a crashed holder releases it when its lease expires',
              }),
            );
          },
          Math.max(0, deadline - Date.now()),
        );
        watcher.on('delete', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    } finally {
      await watcher.cancel().catch(() => undefined);
    }
  }
}
