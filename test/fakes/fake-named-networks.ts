import type { NamedNetworkConfig } from '../../src/network/named-network.js';
import type { NamedNetworks } from '../../src/network/named-networks.js';

/** NamedNetworks in memory: the networks ensured, by conflist path, and the bridges they made. */
export class FakeNamedNetworks implements NamedNetworks {
  readonly ensured = new Map<string, NamedNetworkConfig>();
  readonly removed: string[] = [];

  ensure(config: NamedNetworkConfig, conflistPath: string): Promise<void> {
    this.ensured.set(conflistPath, config);
    return Promise.resolve();
  }

  remove(config: NamedNetworkConfig, conflistPath: string): Promise<void> {
    this.ensured.delete(conflistPath);
    this.removed.push(config.name);
    return Promise.resolve();
  }

  bridgeExists(bridge: string): boolean {
    return [...this.ensured.values()].some((c) => c.bridge === bridge);
  }
}
