import {
  API_VERSION,
  fromPlain,
  Size,
  type Host,
  type StoredHost,
  type StoredVM,
  type VM,
} from '../../src/api/index.js';
import type {
  Fleet,
  HeldHostLease,
  HostLeaseEvents,
  Leadership,
  LeadershipEvents,
} from '../../src/storage/fleet.js';
import type { Watch } from '../../src/storage/raw-storage.js';

/**
 * An in-memory Fleet: hosts are live while `setLive(host, true)` (or a held lease) says so, and
 * every listener hears each change at once. There is no election: `campaign` is elected at once.
 */
export class FakeFleet implements Fleet {
  private readonly live = new Set<string>();
  private readonly listeners = new Set<(host: string, live: boolean) => void>();
  closed = false;

  constructor(live: Iterable<string> = []) {
    for (const h of live) this.live.add(h);
  }

  setLive(host: string, live: boolean): void {
    if (this.live.has(host) === live) return;
    if (live) this.live.add(host);
    else this.live.delete(host);
    for (const l of [...this.listeners]) l(host, live);
  }

  hostLease(host: string, _ttlSeconds: number, _events: HostLeaseEvents): Promise<HeldHostLease> {
    this.setLive(host, true);
    return Promise.resolve({
      release: () => {
        this.setLive(host, false);
        return Promise.resolve();
      },
      abandon: () => this.setLive(host, false),
    });
  }

  liveHosts(): Promise<Set<string>> {
    return Promise.resolve(new Set(this.live));
  }

  watchLiveHosts(
    listener: (host: string, live: boolean) => void,
    options: { initial?: boolean; onError?: (err: unknown) => void } = {},
  ): Watch {
    if (options.initial === true) for (const h of this.live) listener(h, true);
    this.listeners.add(listener);
    return { ready: Promise.resolve(), close: () => this.listeners.delete(listener) };
  }

  campaign(_candidate: string, events: LeadershipEvents): Leadership {
    let leading = true;
    queueMicrotask(() => events.elected());
    return {
      isLeader: () => leading,
      close: () => {
        leading = false;
        return Promise.resolve();
      },
    };
  }

  leader(): Promise<string | undefined> {
    return Promise.resolve(undefined);
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

export interface HostFixture {
  cpus?: number;
  memory?: string;
  labels?: Record<string, string>;
  unschedulable?: boolean;
  address?: string;
  ttl?: number;
}

/** A Host object as an agent registers it. */
export function hostObject(name: string, f: HostFixture = {}): Host {
  return {
    apiVersion: API_VERSION,
    kind: 'Host',
    metadata: { name, ...(f.labels ? { labels: f.labels } : {}) },
    spec: {
      address: f.address ?? `unix:///run/${name}/ignited.sock`,
      capacity: { cpus: f.cpus ?? 2, memory: Size.parse(f.memory ?? '256MB') },
      leaseTTLSeconds: f.ttl ?? 5,
      ...(f.unschedulable !== undefined ? { unschedulable: f.unschedulable } : {}),
    },
    status: {},
  };
}

/** A Host as the store returns it (for pure tests). */
export function storedHost(name: string, f: HostFixture = {}): StoredHost {
  const h = hostObject(name, f);
  h.metadata.uid = `uid-${name}`;
  return h as StoredHost;
}

export interface VMFixture {
  cpus?: number;
  memory?: string;
  host?: string;
  onHost?: string;
  selector?: Record<string, string>;
  reschedule?: boolean;
  state?: 'Pending' | 'Created' | 'Running' | 'Stopped';
}

/** A defaulted VM manifest of a fleet VM, not yet stored. */
export function fleetVM(name: string, f: VMFixture = {}): VM {
  const placement = {
    ...(f.onHost !== undefined ? { host: f.onHost } : {}),
    ...(f.selector !== undefined ? { hostSelector: f.selector } : {}),
    ...(f.reschedule !== undefined ? { reschedule: f.reschedule } : {}),
  };
  const plain = {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: { name },
    spec: {
      image: { ociClaim: { ref: 'busybox' } },
      cpus: f.cpus ?? 1,
      memory: f.memory ?? '64MB',
      ...(Object.keys(placement).length > 0 ? { placement } : {}),
    },
    status: {
      state: f.state ?? 'Pending',
      ...(f.host !== undefined
        ? { host: f.host, placement: { generation: 1, time: '2024-01-01T00:00:00Z' } }
        : {}),
    },
  };
  return fromPlain(plain) as VM;
}

/** A VM as the store returns it (for pure tests). */
export function storedVM(name: string, f: VMFixture = {}): StoredVM {
  const vm = fleetVM(name, f);
  vm.metadata.uid = `uid-${name}`;
  return vm as StoredVM;
}
