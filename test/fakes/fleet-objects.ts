/** Hosts and VMs of a fleet, built as a scheduler or FleetEngine test needs them. */
import {
  API_VERSION,
  fromPlain,
  Size,
  type Host,
  type StoredHost,
  type StoredVM,
  type VM,
} from '../../src/api/index.js';

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
