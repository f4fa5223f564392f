import type { Campaign, Lease, Watcher } from 'etcd3';
import { EtcdConnection, type EtcdConfig } from './etcd-connection.js';
import type {
  Fleet,
  HeldHostLease,
  HostLeaseEvents,
  Leadership,
  LeadershipEvents,
} from './fleet.js';
import type { Watch } from './raw-storage.js';

export interface EtcdFleetOptions extends EtcdConfig {
  /** Where ignite's keys start (default `/ignite/`), as for EtcdRawStorage. */
  root?: string;
  /** The TTL of a scheduler candidate's election lease (default 5 s). */
  electionTTLSeconds?: number;
}

const RETRY_MS = 1000;

/**
 * Fleet on etcd v3: a host lease is an etcd lease with `hostleases/<host>` put under it, kept
 * alive by the client's keep-alive stream; the scheduler is elected with etcd's election recipe
 * under `election/scheduler/`. A lease counts as lost when etcd says so, or when no keep-alive
 * was answered within the TTL (then the key may be gone already, so the holder must assume so).
 */
export class EtcdFleet implements Fleet {
  private readonly conn: EtcdConnection;
  private readonly root: string;
  private readonly electionTTL: number;

  constructor(options: EtcdFleetOptions) {
    this.conn = new EtcdConnection(options);
    this.root = options.root ?? '/ignite/';
    this.electionTTL = options.electionTTLSeconds ?? 5;
  }

  private get leasePrefix(): string {
    return `${this.root}hostleases/`;
  }

  async hostLease(
    host: string,
    ttlSeconds: number,
    events: HostLeaseEvents,
  ): Promise<HeldHostLease> {
    const what = `host "${host}": lease`;
    const key = `${this.leasePrefix}${host}`;
    const grantedAt = new Date();
    const lease: Lease = await this.conn.call(what, async (etcd) => {
      const l = etcd.lease(ttlSeconds);
      await l.grant();
      return l;
    });
    let over = false;
    let lastSent = grantedAt;
    let renewedSentAt = grantedAt;
    let fired: Date | undefined;
    const lose = (err: unknown): void => {
      if (over) return;
      over = true;
      clearInterval(watchdog);
      lease.release();
      events.lost(this.conn.mapError(what, err));
    };
    lease.on('keepaliveFired', () => {
      fired = new Date();
      lastSent = fired;
    });
    lease.on('keepaliveSucceeded', () => {
      if (over) return;
      renewedSentAt = fired ?? lastSent;
      events.renewed(renewedSentAt);
    });
    lease.on('lost', (err) => lose(err));
    // The client notices a silent stream only after twice the TTL; the holder must know sooner.
    const watchdog = setInterval(() => {
      if (Date.now() >= renewedSentAt.getTime() + ttlSeconds * 1000)
        lose(new Error(`no keep-alive answered within ${ttlSeconds} s`));
    }, 250);
    watchdog.unref();
    try {
      await this.conn.call(what, () => lease.put(key).value(host).exec());
    } catch (err) {
      over = true;
      clearInterval(watchdog);
      await this.conn.call(what, () => lease.revoke()).catch(() => lease.release());
      throw err;
    }
    events.renewed(grantedAt);
    return {
      release: async () => {
        if (!over) {
          over = true;
          clearInterval(watchdog);
        }
        await this.conn.call(what, () => lease.revoke());
      },
      abandon: () => {
        over = true;
        clearInterval(watchdog);
        lease.release();
      },
    };
  }

  async liveHosts(): Promise<Set<string>> {
    const res = await this.conn.call('live hosts', (etcd) =>
      etcd.getAll().prefix(this.leasePrefix).keys(),
    );
    return new Set(res.map((k) => k.slice(this.leasePrefix.length)));
  }

  watchLiveHosts(
    listener: (host: string, live: boolean) => void,
    options: { initial?: boolean; onError?: (err: unknown) => void } = {},
  ): Watch {
    let closed = false;
    let watcher: Watcher | undefined;
    let retry: NodeJS.Timeout | undefined;
    let wake: (() => void) | undefined;
    const hostOf = (key: Buffer): string => key.toString().slice(this.leasePrefix.length);
    // The hosts last reported live, so a resync reports only what changed.
    const known = new Set<string>();
    const emit = (host: string, live: boolean): void => {
      if (closed) return;
      if (live) known.add(host);
      else known.delete(host);
      try {
        listener(host, live);
      } catch (err) {
        options.onError?.(err);
      }
    };
    /** Reads the live hosts (reporting them, or on a resync what changed) and watches from there. */
    const start = async (how: 'first' | 'resync'): Promise<void> => {
      let revision: bigint | undefined;
      while (!closed) {
        try {
          if (revision === undefined) {
            const res = await this.conn.call('live hosts watch', (etcd) =>
              etcd.getAll().prefix(this.leasePrefix).exec(),
            );
            const now = new Set(res.kvs.map((kv) => hostOf(kv.key)));
            if (how === 'resync') for (const h of [...known]) if (!now.has(h)) emit(h, false);
            for (const h of now)
              if (!known.has(h)) {
                if (how === 'resync' || options.initial === true) emit(h, true);
                else known.add(h);
              }
            revision = BigInt(res.header.revision);
          }
          const from = revision;
          const w = await this.conn.call('live hosts watch', (etcd) =>
            etcd
              .watch()
              .prefix(this.leasePrefix)
              .startRevision(String(from + 1n))
              .create(),
          );
          if (closed) {
            await w.cancel().catch(() => undefined);
            return;
          }
          watcher = w;
          w.on('put', (kv) => {
            if (kv.version === '1') emit(hostOf(kv.key), true);
          });
          w.on('delete', (kv) => emit(hostOf(kv.key), false));
          w.on('error', (err) => {
            options.onError?.(this.conn.mapError('live hosts watch', err));
            // etcd canceled the watch (its revision was compacted): read again and go on.
            if (watcher !== w || closed) return;
            watcher = undefined;
            void w.cancel().catch(() => undefined);
            void start('resync');
          });
          return;
        } catch (err) {
          options.onError?.(err);
          await new Promise<void>((resolve) => {
            wake = resolve;
            retry = setTimeout(resolve, RETRY_MS);
          });
        }
      }
    };
    return {
      ready: start('first'),
      close: () => {
        closed = true;
        clearTimeout(retry);
        wake?.();
        void watcher?.cancel().catch(() => undefined);
      },
    };
  }

  campaign(candidate: string, events: LeadershipEvents): Leadership {
    let leader = false;
    let over = false;
    let campaign: Campaign | undefined;
    const started = this.conn
      .call('scheduler election', (etcd) =>
        Promise.resolve(
          etcd.namespace(this.root).election('scheduler', this.electionTTL).campaign(candidate),
        ),
      )
      .then((c) => {
        campaign = c;
        c.on('elected', () => {
          if (over) return;
          leader = true;
          events.elected();
        });
        c.on('error', (err) => {
          if (over) return;
          over = true;
          leader = false;
          events.lost(this.conn.mapError('scheduler election', err));
        });
        if (over)
          void this.conn.call('scheduler election', () => c.resign()).catch(() => undefined);
      })
      .catch((err: unknown) => {
        if (over) return;
        over = true;
        events.lost(err);
      });
    return {
      isLeader: () => leader && !over,
      close: async () => {
        over = true;
        leader = false;
        await started;
        // Bounded: with etcd gone, a resign would otherwise wait for it forever.
        const c = campaign;
        if (c) await this.conn.call('scheduler election', () => c.resign()).catch(() => undefined);
      },
    };
  }

  async leader(): Promise<string | undefined> {
    return this.conn.call('scheduler election', (etcd) =>
      etcd.namespace(this.root).election('scheduler').leader(),
    );
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}
