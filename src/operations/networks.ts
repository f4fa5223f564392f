import {
  API_VERSION,
  newUID,
  type Network,
  type StoredNetwork,
  type StoredVM,
} from '../api/index.js';
import { failedPrecondition, invalidArgument, toAppError } from '../errors.js';
import { formatSubnet, isHostOf, overlaps, parseIPv4, parseSubnet } from '../network/ipv4.js';
import { bridgeName, DEFAULT_SUBNET, type NamedNetworkConfig } from '../network/named-network.js';
import type { Services } from './services.js';

export type NetworkServices = Pick<Services, 'client' | 'layout' | 'namedNetworks' | 'logger'>;

export interface CreateNetworkOptions {
  name: string;
  subnet: string;
  gateway?: string;
  nat?: boolean;
  isolated?: boolean;
}

/** The name the default network is listed by; no named network may take it. */
export const DEFAULT_NETWORK_NAME = 'default';

const NAME = /^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/;

export function validateNetworkName(name: string): void {
  if (!NAME.test(name))
    throw invalidArgument(
      `network name "${name}": use 1-63 lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit`,
    );
  if (name === DEFAULT_NETWORK_NAME)
    throw invalidArgument(`network "${name}": the name of the default network`);
}

/** What the host makes of a stored network. */
export function networkConfigOf(net: StoredNetwork): NamedNetworkConfig {
  return {
    name: net.metadata.name,
    subnet: net.spec.subnet,
    gateway: net.spec.gateway,
    nat: net.spec.nat ?? true,
    isolated: net.spec.isolated ?? false,
    bridge: net.status.bridge ?? bridgeName(net.metadata.uid),
  };
}

/**
 * Checks a network's spec against the others: a valid subnet, a gateway among its hosts, and
 * no address shared with the default network or another named network.
 */
export function checkNetworkSpec(
  name: string,
  spec: Network['spec'],
  others: readonly StoredNetwork[],
): void {
  const label = `network "${name}"`;
  const subnet = parseSubnet(spec.subnet, `${label}: subnet "${spec.subnet}"`);
  if (spec.gateway !== undefined) {
    const gw = parseIPv4(spec.gateway);
    if (gw === undefined || !isHostOf(subnet, gw))
      throw invalidArgument(
        `${label}: gateway ${spec.gateway} is not a host address of ${formatSubnet(subnet)}`,
      );
  }
  if (overlaps(subnet, parseSubnet(DEFAULT_SUBNET)))
    throw invalidArgument(
      `${label}: subnet ${spec.subnet} overlaps the default network's ${DEFAULT_SUBNET}`,
    );
  for (const other of others) {
    if (other.metadata.name === name) continue;
    if (overlaps(subnet, parseSubnet(other.spec.subnet)))
      throw invalidArgument(
        `${label}: subnet ${spec.subnet} overlaps network "${other.metadata.name}" (${other.spec.subnet})`,
      );
  }
}

/**
 * Creates a named network: stored with its bridge and CNI file named, then made on the host
 * (NamedNetworks.ensure). A failure on the host removes both again.
 */
export async function createNetwork(
  s: NetworkServices,
  options: CreateNetworkOptions,
): Promise<StoredNetwork> {
  validateNetworkName(options.name);
  const spec: Network['spec'] = {
    subnet: formatSubnet(parseSubnet(options.subnet, `network "${options.name}": subnet`)),
    ...(options.gateway !== undefined ? { gateway: options.gateway } : {}),
    nat: options.nat ?? true,
    isolated: options.isolated ?? false,
  };
  const others = await s.client.networks.list();
  checkNetworkSpec(options.name, spec, others);
  const taken = new Set(others.map((o) => networkConfigOf(o).bridge));
  let uid = newUID();
  while (taken.has(bridgeName(uid))) uid = newUID();
  const created = await s.client.networks.create({
    apiVersion: API_VERSION,
    kind: 'Network',
    metadata: { name: options.name, uid },
    spec,
    status: { bridge: bridgeName(uid), conflist: s.layout.networkConflist(options.name) },
  });
  const config = networkConfigOf(created);
  const conflist = s.layout.networkConflist(created.metadata.name);
  try {
    await s.namedNetworks.ensure(config, conflist);
  } catch (err) {
    await s.namedNetworks.remove(config, conflist).catch(() => undefined);
    await s.client.networks.delete(uid).catch(() => undefined);
    throw toAppError(err);
  }
  return created;
}

/** The VMs whose spec names the network, each with its interface index on it. */
export function vmsOn(vms: readonly StoredVM[], name: string): { vm: StoredVM; index: number }[] {
  const out: { vm: StoredVM; index: number }[] = [];
  for (const vm of vms) {
    const index = (vm.spec.network.networks ?? []).findIndex((n) => n.name === name);
    if (index >= 0) out.push({ vm, index });
  }
  return out;
}

/** Removes a named network, refused while a VM names it; leaves nothing of it on the host. */
export async function removeNetwork(s: NetworkServices, query: string): Promise<string> {
  const net = await s.client.networks.find(query);
  const users = vmsOn(await s.client.vms.list(), net.metadata.name);
  if (users.length > 0)
    throw failedPrecondition(
      `network "${net.metadata.name}": in use by ${users.map((u) => `vm "${u.vm.metadata.name}"`).join(', ')}`,
      { hint: 'remove those VMs first' },
    );
  await s.namedNetworks.remove(networkConfigOf(net), s.layout.networkConflist(net.metadata.name));
  await s.client.networks.delete(net.metadata.uid);
  s.logger.info({ network: net.metadata.name }, `Removed network "${net.metadata.name}"`);
  return net.metadata.uid;
}

/** A network with the VMs on it and their addresses there, as `network inspect` shows. */
export interface NetworkView {
  network: StoredNetwork;
  vms: { name: string; uid: string; interface: string; ip?: string; state: string }[];
}

export async function inspectNetwork(
  s: Pick<Services, 'client'>,
  query: string,
): Promise<NetworkView> {
  const network = await s.client.networks.find(query);
  const vms = vmsOn(await s.client.vms.list(), network.metadata.name).map(({ vm, index }) => {
    const ip = vm.status.ipAddresses?.[index];
    return {
      name: vm.metadata.name,
      uid: vm.metadata.uid,
      interface: `eth${index}`,
      ...(ip !== undefined ? { ip } : {}),
      state: vm.status.state,
    };
  });
  return { network, vms };
}
