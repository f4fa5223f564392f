import type { Watch } from './raw-storage.js';

/**
 * What a fleet needs of its shared store besides objects: host leases, the set of live hosts,
 * and one elected scheduler. etcd provides it (etcd-fleet.ts); a data-dir store has no fleet.
 *
 * Keys, under the store's root (`/ignite/`):
 * - `hostleases/<host>`: put under the host agent's lease; present exactly while the lease lives.
 * - `election/scheduler`: etcd's election of the one scheduler.
 */
export interface Fleet {
  /**
   * Takes a lease of `ttlSeconds` for `host`, puts `hostleases/<host>` under it, and keeps it
   * alive until `release`. When the lease is lost (etcd said it expired, or no keep-alive got
   * through within the TTL), `events.lost` is called and nothing more is renewed: the agent must
   * clean up before it calls `hostLease` again.
   */
  hostLease(host: string, ttlSeconds: number, events: HostLeaseEvents): Promise<HeldHostLease>;
  /** The hosts whose lease key exists now. */
  liveHosts(): Promise<Set<string>>;
  /**
   * Reports each host's lease key appearing (`live: true`) and vanishing (`live: false`); with
   * `initial`, every live host first. Errors go to `onError` and watching goes on.
   */
  watchLiveHosts(
    listener: (host: string, live: boolean) => void,
    options?: { initial?: boolean; onError?: (err: unknown) => void },
  ): Watch;
  /**
   * Campaigns to be the one scheduler, as `candidate` (a host name). `elected` is called once
   * this candidate leads; `lost` when it no longer does (its election lease lapsed). A lost
   * leadership is not taken back: campaign again.
   */
  campaign(candidate: string, events: LeadershipEvents): Leadership;
  /** The leading candidate now, if any. */
  leader(): Promise<string | undefined>;
  close(): Promise<void>;
}

/** What a fleet's front ends read of it: which hosts hold a lease now. */
export type LiveHosts = Pick<Fleet, 'liveHosts' | 'close'>;

export interface HostLeaseEvents {
  /**
   * A keep-alive was answered. `sentAt` is when it was sent: the lease lasts at least until
   * `sentAt + ttl`, which bounds how long the host may keep running replaceable VMs.
   */
  renewed(sentAt: Date): void;
  lost(err: unknown): void;
}

export interface HeldHostLease {
  /** Revokes the lease, so the host is NotReady at once (an orderly shutdown). */
  release(): Promise<void>;
  /** Stops renewing without revoking: the lease lapses after its TTL. */
  abandon(): void;
}

export interface LeadershipEvents {
  elected(): void;
  lost(err: unknown): void;
}

export interface Leadership {
  isLeader(): boolean;
  /** Resigns (or stops campaigning). */
  close(): Promise<void>;
}
