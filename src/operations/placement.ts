import { compareText, Size, type StoredHost, type StoredVM } from '../api/index.js';

/** What a host has given out to the VMs placed on it. */
export interface HostAllocation {
  cpus: number;
  memoryBytes: number;
  vms: number;
}

/** A placement: the chosen host, or why none fits (naming what each host is short of). */
export type PlacementResult = { host: StoredHost } | { reason: string };

/**
 * What the VMs placed on `host` take of it. Every VM placed there counts, stopped or not: a
 * stopped VM may be started again at any moment, so its share stays reserved.
 */
export function hostAllocation(host: string, placedVMs: readonly StoredVM[]): HostAllocation {
  const alloc: HostAllocation = { cpus: 0, memoryBytes: 0, vms: 0 };
  for (const vm of placedVMs) {
    if (vm.status.host !== host) continue;
    alloc.cpus += vm.spec.cpus;
    alloc.memoryBytes += vm.spec.memory.bytes;
    alloc.vms += 1;
  }
  return alloc;
}

/** `host ls`'s STATUS: from the host's lease and its drain mark, as kubectl shows nodes. */
export function hostStatusText(host: StoredHost, liveHosts: ReadonlySet<string>): string {
  if (!liveHosts.has(host.metadata.name)) return 'NotReady';
  return host.spec.unschedulable === true ? 'Ready,SchedulingDisabled' : 'Ready';
}

/**
 * Chooses a host for `vm`: Ready (its lease lives), schedulable, the one `placement.host` names
 * if any, carrying every `placement.hostSelector` label, and with enough CPUs and memory free
 * after `placedVMs`. Among those: the most free memory, then the fewest VMs, then the name.
 */
export function placeVM(
  vm: StoredVM,
  hosts: readonly StoredHost[],
  placedVMs: readonly StoredVM[],
  liveHosts: ReadonlySet<string>,
): PlacementResult {
  const placement = vm.spec.placement ?? {};
  const cpus = vm.spec.cpus;
  const memory = vm.spec.memory.bytes;
  const others = placedVMs.filter((p) => p.metadata.uid !== vm.metadata.uid);
  const fits: { host: StoredHost; freeMemory: number; vms: number }[] = [];
  const short: string[] = [];
  const sorted = [...hosts].sort((a, b) => compareText(a.metadata.name, b.metadata.name));
  for (const host of sorted) {
    const name = host.metadata.name;
    if (placement.host !== undefined && placement.host !== name) continue;
    const why = unfitReason(host, placement.hostSelector ?? {}, liveHosts);
    if (why !== undefined) {
      short.push(`${name}: ${why}`);
      continue;
    }
    const alloc = hostAllocation(name, others);
    const freeCPUs = host.spec.capacity.cpus - alloc.cpus;
    const freeMemory = host.spec.capacity.memory.bytes - alloc.memoryBytes;
    const lacks: string[] = [];
    if (freeCPUs < cpus) lacks.push(`${Math.max(freeCPUs, 0)} ${plural(freeCPUs, 'CPU')} free`);
    if (freeMemory < memory) lacks.push(`${sizeText(freeMemory)} free`);
    if (lacks.length > 0) short.push(`${name}: ${lacks.join(', ')}`);
    else fits.push({ host, freeMemory, vms: alloc.vms });
  }
  fits.sort(
    (a, b) =>
      b.freeMemory - a.freeMemory ||
      a.vms - b.vms ||
      compareText(a.host.metadata.name, b.host.metadata.name),
  );
  const best = fits[0];
  if (best !== undefined) return { host: best.host };
  const need = `${cpus} ${plural(cpus, 'CPU')} and ${sizeText(memory)} free`;
  if (placement.host !== undefined && short.length === 0)
    return { reason: `host "${placement.host}" is not registered` };
  const target = placement.host !== undefined ? `host "${placement.host}"` : 'no Ready host';
  const verb = placement.host !== undefined ? 'does not have' : 'has';
  const detail = short.length > 0 ? ` (${short.join('; ')})` : ' (no hosts registered)';
  return { reason: `${target} ${verb} ${need}${detail}` };
}

function unfitReason(
  host: StoredHost,
  selector: Readonly<Record<string, string>>,
  liveHosts: ReadonlySet<string>,
): string | undefined {
  if (!liveHosts.has(host.metadata.name)) return 'NotReady';
  if (host.spec.unschedulable === true) return 'unschedulable';
  const labels = host.metadata.labels ?? {};
  const missing = Object.entries(selector)
    .filter(([k, v]) => labels[k] !== v)
    .map(([k, v]) => `${k}=${v}`);
  return missing.length > 0 ? `no label ${missing.join(', ')}` : undefined;
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

function sizeText(bytes: number): string {
  return Size.fromBytes(Math.max(bytes, 0)).toString();
}
