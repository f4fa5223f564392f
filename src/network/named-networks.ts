import type { NamedNetworkConfig } from './named-network.js';

/**
 * The host side of named networks, beside the VMs' attachments (VMNetwork). `ensure` writes the
 * network's CNI configuration list to `conflistPath` and puts its isolation rules in place; it
 * is idempotent, so a start after a host reboot, which lost the rules, puts them back. `remove`
 * takes away the bridge, the rules, the file and host-local's directory of the network, leaving
 * nothing; it too is idempotent. Implementation: HostNamedNetworks (ip, iptables).
 */
export interface NamedNetworks {
  ensure(config: NamedNetworkConfig, conflistPath: string): Promise<void>;
  remove(config: NamedNetworkConfig, conflistPath: string): Promise<void>;
  /** Whether the network's bridge exists on the host. */
  bridgeExists(bridge: string): boolean;
}
