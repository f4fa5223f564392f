import type { NetworkMode, PortMapping } from '../api/index.js';

/** What the supervisor needs of the network layer: one attachment per VM, torn down on exit. */
export interface VMNetworkAttachment {
  /** The namespace the hypervisor must run in; absent when the VM has no network. */
  netns?: string;
  tapName?: string;
  mac?: string;
  ipAddresses: string[];
}

export interface VMNetworking {
  /** DHCP leases handed to the guest so far (for metrics). */
  dhcpLeases?(uid: string): Promise<number>;
  setup(req: {
    uid: string;
    name: string;
    mode: NetworkMode;
    ports: PortMapping[];
    vmDir: string;
  }): Promise<VMNetworkAttachment>;
  /** Idempotent: safe after a crash and when nothing was set up. */
  teardown(req: { uid: string; vmDir: string }): Promise<void>;
}
