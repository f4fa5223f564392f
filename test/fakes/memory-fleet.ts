import type {
  Fleet,
  HeldHostLease,
  HostLeaseEvents,
  Leadership,
  LeadershipEvents,
} from '../../src/storage/fleet.js';
import type { Watch } from '../../src/storage/raw-storage.js';

interface MemoryLease {
  host: string;
  ttlMs: number;
  events: HostLeaseEvents;
  /** When the last renewal was sent: the key lives until this plus the TTL. */
  renewedAt: number;
  timer: NodeJS.Timeout | undefined;
  renewing: boolean;
}

interface Candidate {
  name: string;
  events: LeadershipEvents;
  leader: boolean;
}

/**
 * A Fleet in memory for unit tests, shared by the "hosts" of one test: leases renew every
 * `renewMs` (real timers) while held; `expire(host)` revokes one behind its holder's back, and
 * `freeze(host)` stops its renewals as a frozen agent's would stop, so the key lapses after the
 * TTL. Candidates lead in the order they campaigned.
 */
export class MemoryFleet implements Fleet {
  private readonly leases = new Map<string, MemoryLease>();
  private readonly listeners = new Set<(host: string, live: boolean) => void>();
  private readonly candidates: Candidate[] = [];

  /** `live`: hosts that are live from the start, as `setLive(host, true)` makes them. */
  constructor(private readonly options: { renewMs?: number; live?: Iterable<string> } = {}) {
    for (const host of options.live ?? []) this.setLive(host, true);
  }

  /**
   * Makes `host` live (a lease key no holder renews, which never lapses) or not live, as a test
   * of the readers of liveness wants it, and tells the watchers.
   */
  setLive(host: string, live: boolean): void {
    if (this.leases.has(host) === live) return;
    if (!live) return this.drop(host);
    const noop = (): void => undefined;
    this.leases.set(host, {
      host,
      ttlMs: Number.POSITIVE_INFINITY,
      events: { renewed: noop, lost: noop },
      renewedAt: Date.now(),
      timer: undefined,
      renewing: false,
    });
    this.tell(host, true);
  }

  hostLease(host: string, ttlSeconds: number, events: HostLeaseEvents): Promise<HeldHostLease> {
    if (this.leases.has(host)) this.drop(host);
    const lease: MemoryLease = {
      host,
      ttlMs: ttlSeconds * 1000,
      events,
      renewedAt: Date.now(),
      timer: undefined,
      renewing: true,
    };
    this.leases.set(host, lease);
    this.tell(host, true);
    events.renewed(new Date(lease.renewedAt));
    this.schedule(lease);
    return Promise.resolve({
      release: () => {
        if (this.leases.get(host) === lease) this.drop(host);
        return Promise.resolve();
      },
      abandon: () => {
        lease.renewing = false;
      },
    });
  }

  /** Revokes `host`'s lease: the key goes at once and its holder is told it is lost. */
  expire(host: string): void {
    const lease = this.leases.get(host);
    if (!lease) return;
    this.drop(host);
    lease.events.lost(new Error(`host "${host}": lease revoked`));
  }

  /** Stops `host`'s renewals without telling it: the key lapses after the TTL. */
  freeze(host: string): void {
    const lease = this.leases.get(host);
    if (lease) lease.renewing = false;
  }

  liveHosts(): Promise<Set<string>> {
    return Promise.resolve(new Set(this.leases.keys()));
  }

  watchLiveHosts(
    listener: (host: string, live: boolean) => void,
    options: { initial?: boolean; onError?: (err: unknown) => void } = {},
  ): Watch {
    const wrapped = (host: string, live: boolean): void => {
      try {
        listener(host, live);
      } catch (err) {
        options.onError?.(err);
      }
    };
    if (options.initial === true) for (const host of this.leases.keys()) wrapped(host, true);
    this.listeners.add(wrapped);
    return { ready: Promise.resolve(), close: () => this.listeners.delete(wrapped) };
  }

  campaign(candidate: string, events: LeadershipEvents): Leadership {
    const c: Candidate = { name: candidate, events, leader: false };
    this.candidates.push(c);
    this.elect();
    return {
      isLeader: () => c.leader,
      close: () => {
        const i = this.candidates.indexOf(c);
        if (i >= 0) this.candidates.splice(i, 1);
        c.leader = false;
        this.elect();
        return Promise.resolve();
      },
    };
  }

  /** Takes leadership from the leader as a lapsed election lease would; it is told it lost. */
  depose(): void {
    const c = this.candidates.shift();
    if (!c) return;
    c.leader = false;
    c.events.lost(new Error(`candidate "${c.name}": election lease lost`));
    this.elect();
  }

  leader(): Promise<string | undefined> {
    return Promise.resolve(this.candidates[0]?.name);
  }

  close(): Promise<void> {
    for (const host of [...this.leases.keys()]) this.drop(host);
    return Promise.resolve();
  }

  private elect(): void {
    const first = this.candidates[0];
    if (first && !first.leader) {
      first.leader = true;
      first.events.elected();
    }
  }

  private schedule(lease: MemoryLease): void {
    lease.timer = setTimeout(
      () => {
        if (this.leases.get(lease.host) !== lease) return;
        const now = Date.now();
        if (lease.renewing) {
          lease.renewedAt = now;
          lease.events.renewed(new Date(now));
        } else if (now >= lease.renewedAt + lease.ttlMs) {
          this.drop(lease.host);
          return;
        }
        this.schedule(lease);
      },
      Math.min(this.options.renewMs ?? 100, lease.ttlMs / 3),
    );
    lease.timer.unref();
  }

  private drop(host: string): void {
    const lease = this.leases.get(host);
    if (!lease) return;
    clearTimeout(lease.timer);
    this.leases.delete(host);
    this.tell(host, false);
  }

  private tell(host: string, live: boolean): void {
    for (const l of [...this.listeners]) l(host, live);
  }
}
