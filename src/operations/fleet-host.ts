import { API_VERSION, Size, type HostSpec, type StoredHost } from '../api/index.js';
import { invalidArgument } from '../errors.js';
import type { HostFacts } from '../system/host-facts.js';
import type { Services } from './services.js';

/** What an agent registers and keeps: its Host object's fields, and the scheduler's grace. */
export interface FleetHostOptions {
  name: string;
  labels: Record<string, string>;
  address: string;
  capacity: HostSpec['capacity'];
  leaseTTLSeconds: number;
  /** How long after a host's lease lapsed the scheduler moves its replaceable VMs. */
  graceMs: number;
}

/** ignited's fleet flags as written. */
export interface FleetHostFlags {
  capacityCpus?: string | undefined;
  capacityMemory?: string | undefined;
  hostLabel: readonly string[];
  leaseTtl: string;
  advertiseAddress?: string | undefined;
  rescheduleGrace: string;
}

export const DEFAULT_LEASE_TTL_SECONDS = 5;
export const DEFAULT_RESCHEDULE_GRACE_SECONDS = 5;
const HOST_NAME = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/;
const LABEL = /^([A-Za-z0-9][-A-Za-z0-9_./]{0,62})=([-A-Za-z0-9_.]{0,63})$/;

/**
 * The agent's settings from ignited's flags, or undefined without a host name (no agent). A host
 * name needs a shared store, since a fleet lives in etcd. Capacity defaults to the machine's;
 * the address to the daemon's first listen address.
 */
export function fleetHostOptions(
  hostName: string | undefined,
  f: FleetHostFlags,
  ctx: { sharedStore: boolean; host: HostFacts; listen: string },
): FleetHostOptions | undefined {
  if (hostName === undefined) return undefined;
  if (!ctx.sharedStore)
    throw invalidArgument(`--host-name ${hostName}: a fleet host needs an etcd store`, {
      hint: 'give --store etcd://host:port,… (or IGNITE_STORE), or leave --host-name out',
    });
  if (!HOST_NAME.test(hostName))
    throw invalidArgument(
      `--host-name ${hostName}: expected lower-case letters, digits, "-" and "." (at most 63)`,
    );
  const ttl = Number(f.leaseTtl);
  if (!Number.isInteger(ttl) || ttl < 5 || ttl > 10)
    throw invalidArgument(`--lease-ttl ${f.leaseTtl}: expected whole seconds from 5 to 10`);
  const grace = Number(f.rescheduleGrace);
  if (!Number.isFinite(grace) || grace < 0)
    throw invalidArgument(`--reschedule-grace ${f.rescheduleGrace}: expected seconds (0 or more)`);
  const cpus = f.capacityCpus === undefined ? ctx.host.cpus : Number(f.capacityCpus);
  if (!Number.isInteger(cpus) || cpus < 1)
    throw invalidArgument(`--capacity-cpus ${f.capacityCpus}: expected a whole number, 1 or more`);
  let memory: Size;
  try {
    memory =
      f.capacityMemory === undefined
        ? Size.fromBytes(ctx.host.memoryBytes)
        : Size.parse(f.capacityMemory);
  } catch (err) {
    throw invalidArgument(`--capacity-memory ${f.capacityMemory}: expected a size such as 4GB`, {
      cause: err,
    });
  }
  const labels: Record<string, string> = {};
  for (const l of f.hostLabel) {
    const m = LABEL.exec(l);
    if (!m?.[1]) throw invalidArgument(`--host-label ${l}: expected key=value`);
    labels[m[1]] = m[2] ?? '';
  }
  return {
    name: hostName,
    labels,
    address: f.advertiseAddress ?? ctx.listen,
    capacity: { cpus, memory },
    leaseTTLSeconds: ttl,
    graceMs: grace * 1000,
  };
}

/**
 * Stores this host's Host object: created the first time, else its labels and spec replaced
 * (keeping `unschedulable`, which `host drain` owns) and its status renewed.
 */
export async function registerHost(
  s: Pick<Services, 'client' | 'clock'>,
  o: FleetHostOptions,
  version: string,
): Promise<StoredHost> {
  const spec: HostSpec = {
    address: o.address,
    capacity: o.capacity,
    leaseTTLSeconds: o.leaseTTLSeconds,
  };
  const status = { version, registeredTime: s.clock.now().toISOString() };
  const found = await s.client.hosts.findByName(o.name);
  if (found === undefined)
    return s.client.hosts.create({
      apiVersion: API_VERSION,
      kind: 'Host',
      metadata: { name: o.name, labels: o.labels },
      spec,
      status,
    });
  return s.client.hosts.update(found.metadata.uid, (h) => {
    h.metadata.labels = o.labels;
    h.spec = {
      ...spec,
      ...(h.spec.unschedulable !== undefined ? { unschedulable: h.spec.unschedulable } : {}),
    };
    h.status = status;
  });
}
