import type { NetworkConfigList } from './cni/cni-runner.js';
import { DEFAULT_NETWORK } from './default-network.js';
import { firstHost, formatIPv4, formatSubnet, parseSubnet, type Subnet4 } from './ipv4.js';

/**
 * A named network as the host makes it: a bridge of its own with its subnet, its CNI
 * configuration (bridge, host-local, portmap, firewall) and its isolation rules.
 */
export interface NamedNetworkConfig {
  /** The Network object's name. */
  name: string;
  /** CIDR, e.g. 10.70.0.0/24. */
  subnet: string;
  /** The bridge's address; the subnet's first host when absent. */
  gateway?: string | undefined;
  nat: boolean;
  isolated: boolean;
  /** The host bridge, `ignite` and at most 9 more characters (bridgeName). */
  bridge: string;
}

/** The prefix every ignite bridge has, the default network's `ignite0` included. */
export const BRIDGE_PREFIX = 'ignite';

/** The default network's bridge and subnet, which no named network may overlap. */
export const DEFAULT_BRIDGE = 'ignite0';
export const DEFAULT_SUBNET = '10.61.0.0/16';

/**
 * A bridge name for a network with this UID: `ignite` and the UID's first 9 characters, 15 in
 * all (the kernel's limit). UIDs are random, so two networks differ there; create checks it.
 */
export function bridgeName(uid: string): string {
  return `${BRIDGE_PREFIX}${uid.replace(/[^a-z0-9]/g, '').slice(0, 9)}`;
}

/** The CNI network name, which host-local names its directory after. */
export function cniNetworkName(name: string): string {
  return `ignite-net-${name}`;
}

/** The subnet of the default network (for overlap checks). */
export function defaultSubnet(): Subnet4 {
  return parseSubnet(DEFAULT_SUBNET);
}

/** The gateway the network's VMs get: the one given, or the subnet's first host. */
export function gatewayOf(config: Pick<NamedNetworkConfig, 'subnet' | 'gateway'>): string {
  return config.gateway ?? formatIPv4(firstHost(parseSubnet(config.subnet)));
}

/**
 * The network's CNI configuration list: the default network's plugins, on its own bridge, with
 * its subnet and gateway, masquerading only when `nat`. Hairpin mode lets a VM reach itself by a
 * host port; an isolated network leaves it off, as its VMs reach nobody on the bridge.
 */
export function conflistFor(config: NamedNetworkConfig): NetworkConfigList {
  const subnet = formatSubnet(parseSubnet(config.subnet));
  const bridge: Record<string, unknown> = {
    type: 'bridge',
    bridge: config.bridge,
    isGateway: true,
    isDefaultGateway: true,
    ipMasq: config.nat,
    hairpinMode: !config.isolated,
    ipam: {
      type: 'host-local',
      ranges: [[{ subnet, gateway: gatewayOf(config) }]],
    },
  };
  return {
    cniVersion: DEFAULT_NETWORK.cniVersion,
    name: cniNetworkName(config.name),
    plugins: [
      bridge,
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      { type: 'firewall' },
    ],
  };
}

/**
 * The FORWARD rules that keep the network to itself, as iptables argv after `-I FORWARD 1` or
 * `-D FORWARD`, in the order to insert them (each at the top, so the last is first): what comes
 * from another ignite bridge or goes to one is dropped; traffic within the bridge (seen when
 * bridged frames pass iptables) is accepted, or dropped when the network is isolated, so no VM
 * reaches a peer through the gateway either. The host's own traffic never passes FORWARD, so the
 * host reaches every VM.
 */
export function isolationRules(
  config: Pick<NamedNetworkConfig, 'name' | 'bridge' | 'isolated'>,
): string[][] {
  const tag = ['-m', 'comment', '--comment', `ignite network ${config.name}`];
  const other = `${BRIDGE_PREFIX}+`;
  return [
    ['-i', config.bridge, '-o', other, ...tag, '-j', 'DROP'],
    ['-i', other, '-o', config.bridge, ...tag, '-j', 'DROP'],
    ['-i', config.bridge, '-o', config.bridge, ...tag, '-j', config.isolated ? 'DROP' : 'ACCEPT'],
  ];
}
