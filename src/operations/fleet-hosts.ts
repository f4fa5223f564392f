import { compareText, Size, type StoredHost, type StoredVM } from '../api/index.js';
import { failedPrecondition } from '../errors.js';
import type { Client } from '../storage/client.js';
import type { Fleet } from '../storage/fleet.js';
import type { Clock } from '../system/clock.js';
import { waitUntil } from './fleet-wait.js';
import { hostAllocation, hostStatusText } from './placement.js';

export interface FleetHostsDeps {
  client: Client;
  fleet: Pick<Fleet, 'liveHosts'>;
}

/** One host as `host ls` shows it: its readiness and what its VMs take of it. */
export interface HostSummary {
  name: string;
  /** Ready, NotReady or Ready,SchedulingDisabled. */
  status: string;
  cpus: { allocated: number; capacity: number };
  memory: { allocated: string; capacity: string };
  vms: number;
  address: string;
  version?: string;
  labels: Record<string, string>;
}

/** Every registered host by name, with its readiness and allocations. */
export async function listHosts(deps: FleetHostsDeps): Promise<HostSummary[]> {
  const [hosts, vms, live] = await Promise.all([
    deps.client.hosts.list(),
    deps.client.vms.list(),
    deps.fleet.liveHosts(),
  ]);
  return hosts
    .sort((a, b) => compareText(a.metadata.name, b.metadata.name))
    .map((host) => summarize(host, vms, live));
}

function summarize(host: StoredHost, vms: StoredVM[], live: ReadonlySet<string>): HostSummary {
  const alloc = hostAllocation(host.metadata.name, vms);
  const version = host.status?.version;
  return {
    name: host.metadata.name,
    status: hostStatusText(host, live),
    cpus: { allocated: alloc.cpus, capacity: host.spec.capacity.cpus },
    memory: {
      allocated: Size.fromBytes(alloc.memoryBytes).toString(),
      capacity: host.spec.capacity.memory.toString(),
    },
    vms: alloc.vms,
    address: host.spec.address,
    ...(version !== undefined ? { version } : {}),
    labels: { ...host.metadata.labels },
  };
}

/** Marks a host (un)schedulable: `host drain` and `host uncordon`. */
export async function setSchedulable(
  deps: Pick<FleetHostsDeps, 'client'>,
  name: string,
  schedulable: boolean,
): Promise<StoredHost> {
  const host = await findHostByName(deps.client, name);
  return deps.client.hosts.update(host.metadata.uid, (h) => {
    if (schedulable) delete h.spec.unschedulable;
    else h.spec.unschedulable = true;
  });
}

async function findHostByName(client: Client, name: string): Promise<StoredHost> {
  const host = await client.hosts.find(name);
  if (host.metadata.name !== name)
    throw failedPrecondition(
      `host "${name}": not registered (did you mean "${host.metadata.name}"?)`,
    );
  return host;
}

/** What a drain did to each VM of the host. */
export interface DrainResult {
  host: string;
  moved: { vm: string; to: string }[];
  stays: { vm: string; reason: string }[];
}

/**
 * `host drain`: marks the host unschedulable, so the scheduler moves its replaceable VMs off it
 * at once, and waits up to `timeoutMs` for them to be placed elsewhere. The others stay.
 */
export async function drainHost(
  deps: FleetHostsDeps & { clock: Clock },
  name: string,
  options: { timeoutMs: number },
): Promise<DrainResult> {
  await setSchedulable(deps, name, false);
  const result: DrainResult = { host: name, moved: [], stays: [] };
  const deadline = deps.clock.now().getTime() + options.timeoutMs;
  const vms = (await deps.client.vms.list())
    .filter((vm) => vm.status.host === name)
    .sort((a, b) => compareText(a.metadata.name, b.metadata.name));
  for (const vm of vms) {
    const label = vm.metadata.name;
    if (vm.spec.placement?.reschedule !== true) {
      result.stays.push({ vm: label, reason: 'not replaceable (no --reschedule)' });
      continue;
    }
    try {
      const moved = await waitUntil(deps, vm, (v) => v.status.host !== name, {
        timeoutMs: Math.max(0, deadline - deps.clock.now().getTime()),
        onTimeout: (last) =>
          failedPrecondition(
            `not moved in time${last.status.placement?.message !== undefined ? `: ${last.status.placement.message}` : ''}`,
          ),
      });
      result.moved.push({ vm: label, to: moved.status.host ?? '' });
    } catch (err) {
      result.stays.push({ vm: label, reason: (err as Error).message });
    }
  }
  return result;
}
