import { compareText, type StoredHost, type StoredVM } from '../api/index.js';
import type { Client } from '../storage/client.js';
import type { Fleet } from '../storage/fleet.js';
import type { Watch } from '../storage/raw-storage.js';
import type { Clock } from '../system/clock.js';
import type { Logger } from '../system/logger.js';
import { placeVM } from './placement.js';

export interface SchedulerDeps {
  client: Client;
  fleet: Fleet;
  clock: Clock;
  logger: Logger;
  /** The host this scheduler runs on (for its logs). */
  hostName: string;
}

export interface SchedulerOptions {
  /** How long past a lost host's lease TTL its replaceable VMs wait before they are moved. */
  graceMs: number;
}

/** How long a pass that failed (the store unreachable) waits before the next. */
const RETRY_MS = 1000;

/**
 * The fleet's one scheduler, run by the elected agent until `signal` aborts. Each pass reads the
 * VMs, hosts and live hosts, places the VMs that have no host, and moves the replaceable VMs of
 * drained hosts at once and of lost hosts once `leaseTTLSeconds + graceMs` has passed since
 * their lease key vanished (counted from when this scheduler saw it go, or from its start). A
 * pass runs again whenever a VM, a host or a lease changes, and when a lost host's time is up.
 */
export async function runScheduler(
  deps: SchedulerDeps,
  signal: AbortSignal,
  options: SchedulerOptions,
): Promise<void> {
  const state = new SchedulerState(deps, options);
  let wake = new AbortController();
  const poke = (): void => wake.abort();
  const onError = (err: unknown): void =>
    deps.logger.warn({ err }, `scheduler on ${deps.hostName}: watch failed`);
  const watches: Watch[] = [
    deps.client.vms.watch(poke, { onError }),
    deps.client.hosts.watch(poke, { onError }),
    deps.fleet.watchLiveHosts(
      (host, live) => {
        state.sawLease(host, live);
        poke();
      },
      { onError },
    ),
  ];
  try {
    await Promise.all(watches.map((w) => w.ready));
    deps.logger.info(`scheduler on ${deps.hostName}: running`);
    while (!signal.aborted) {
      wake = new AbortController();
      let waitMs: number | undefined;
      try {
        waitMs = await state.pass();
      } catch (err) {
        deps.logger.warn({ err }, `scheduler on ${deps.hostName}: pass failed, retrying`);
        waitMs = RETRY_MS;
      }
      if (signal.aborted || wake.signal.aborted) continue;
      const until = AbortSignal.any([signal, wake.signal]);
      if (waitMs === undefined) await aborted(until);
      else await deps.clock.sleep(waitMs, until);
    }
  } finally {
    for (const w of watches) w.close();
    deps.logger.info(`scheduler on ${deps.hostName}: stopped`);
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** What the scheduler remembers between passes: when it saw each host's lease go. */
class SchedulerState {
  private readonly lostAt = new Map<string, number>();

  constructor(
    private readonly deps: SchedulerDeps,
    private readonly options: SchedulerOptions,
  ) {}

  /** The lease watch's word: a vanished lease key starts its host's count afresh. */
  sawLease(host: string, live: boolean): void {
    if (live) this.lostAt.delete(host);
    else this.lostAt.set(host, this.deps.clock.now().getTime());
  }

  /**
   * A pass's snapshot may be older than the watch's last word, so it only starts the count of
   * a host it finds without a lease and without one (at start, or a host never seen live).
   */
  private noteNotLive(host: string, live: ReadonlySet<string>): void {
    if (!live.has(host) && !this.lostAt.has(host))
      this.lostAt.set(host, this.deps.clock.now().getTime());
  }

  /** One pass; returns how long until a lost host's VMs may move, if any are waiting. */
  async pass(): Promise<number | undefined> {
    const { client, fleet } = this.deps;
    const [vms, hosts, live] = await Promise.all([
      client.vms.list(),
      client.hosts.list(),
      fleet.liveHosts(),
    ]);
    const now = this.deps.clock.now().getTime();
    for (const h of hosts) this.noteNotLive(h.metadata.name, live);
    vms.sort((a, b) => compareText(a.metadata.created ?? '', b.metadata.created ?? ''));
    const placed = vms.filter((vm) => vm.status.host !== undefined);
    for (const vm of vms) {
      if (vm.status.host !== undefined) continue;
      const moved = await this.place(vm, hosts, placed, live, undefined);
      if (moved) placed.push(moved);
    }
    let nextMs: number | undefined;
    const byName = new Map(hosts.map((h) => [h.metadata.name, h]));
    for (const vm of [...placed]) {
      const from = vm.status.host;
      if (from === undefined || vm.spec.placement?.reschedule !== true) continue;
      this.noteNotLive(from, live);
      const host = byName.get(from);
      const drained = live.has(from) && host?.spec.unschedulable === true;
      if (live.has(from) && !drained) continue;
      if (!drained) {
        const ttlMs = (host?.spec.leaseTTLSeconds ?? 0) * 1000;
        const dueMs = (this.lostAt.get(from) ?? now) + ttlMs + this.options.graceMs - now;
        if (dueMs > 0) {
          nextMs = Math.min(nextMs ?? dueMs, dueMs);
          continue;
        }
      }
      const moved = await this.place(vm, hosts, placed, live, { from, drained });
      if (moved) placed.splice(placed.indexOf(vm), 1, moved);
    }
    return nextMs;
  }

  /**
   * Places `vm` (or moves it off `move.from`), writing under the VM kind's lock after re-reading
   * it; returns the VM as written when it got a host, else undefined.
   */
  private async place(
    vm: StoredVM,
    hosts: readonly StoredHost[],
    placed: readonly StoredVM[],
    live: ReadonlySet<string>,
    move: { from: string; drained: boolean } | undefined,
  ): Promise<StoredVM | undefined> {
    const { client, fleet, clock, logger } = this.deps;
    const uid = vm.metadata.uid;
    const name = vm.metadata.name;
    const choice = placeVM(vm, hosts, placed, live);
    if ('reason' in choice) {
      if (vm.status.placement?.message === choice.reason) return undefined;
      await client.vms.update(uid, (v) => {
        if (v.status.host !== vm.status.host) return;
        v.status.placement = {
          generation: v.status.placement?.generation ?? 1,
          time: v.status.placement?.time ?? clock.now().toISOString(),
          message: choice.reason,
        };
      });
      logger.info({ vm: name }, `vm "${name}": not placed: ${choice.reason}`);
      return undefined;
    }
    const to = choice.host.metadata.name;
    let wrote = false;
    const written = await client.vms.update(uid, async (v) => {
      if (v.status.host !== vm.status.host) return;
      if (move !== undefined) {
        if (v.spec.placement?.reschedule !== true) return;
        const stillGone = move.drained
          ? (await client.hosts.tryFind(move.from))?.spec.unschedulable === true
          : !(await fleet.liveHosts()).has(move.from);
        if (!stillGone) return;
        delete v.status.runtime;
        delete v.status.ipAddresses;
        delete v.status.startTime;
        delete v.status.network;
        v.status.state = 'Pending';
      }
      const previous = move === undefined ? 0 : (v.status.placement?.generation ?? 0);
      v.status.host = to;
      v.status.placement = { generation: previous + 1, time: clock.now().toISOString() };
      wrote = true;
    });
    if (!wrote) return undefined;
    const why =
      move === undefined ? '' : ` from ${move.from} (${move.drained ? 'drained' : 'lost'})`;
    logger.info({ vm: name, host: to }, `vm "${name}": placed on ${to}${why}`);
    return written;
  }
}
