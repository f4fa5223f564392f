import type { NetworkMode, PortMapping } from '../api/index.js';

/** Who a network request is for: the VM's UID keys everything the network keeps for it. */
export interface NetworkVMRef {
  uid: string;
  /** The VM's name, for messages and the guest's DHCP hostname. */
  name: string;
}

export interface NetworkAttachRequest extends NetworkVMRef {
  mode: NetworkMode;
  ports: readonly PortMapping[];
}

/** What a VM's hypervisor needs to join its network, and what its status reports. */
export interface NetworkAttachment {
  /** The network namespace the hypervisor runs in (absent for `none`). */
  netns?: string;
  /** The tap device, in `netns`, that the hypervisor's NIC uses. */
  tapName?: string;
  mac?: string;
  ipAddresses: string[];
  gateway?: string;
  prefixLength?: number;
}

/**
 * The network as the use cases see it. A VM's address is reserved at create, so concurrent
 * creates get distinct ones; attach, at start, hands it to the VM's interface; detach, at stop,
 * undoes attach; release, at rm, gives back whatever the VM still holds. Every step is idempotent
 * and may be repeated after a crash.
 */
export interface VMNetwork {
  /** Reserves the VM's address; returns it, or undefined for `none`. Repeats return the same one. */
  reserve(req: NetworkVMRef & { mode: NetworkMode }): Promise<string | undefined>;
  /** Joins the VM to its network; a leftover of an earlier run of the same VM goes first. */
  attach(req: NetworkAttachRequest): Promise<NetworkAttachment>;
  /** Undoes attach (namespace, tap, DHCP server, the CNI attachment). Idempotent. */
  detach(req: { uid: string }): Promise<void>;
  /** Releases everything the VM holds, its reserved address included. Idempotent. */
  release(req: { uid: string }): Promise<void>;
  /** How many DHCP leases the VM's server handed out (a metric). */
  leases(uid: string): Promise<number>;
  /**
   * Collects what VMs that no longer run left behind (namespaces, NAT rules, IPAM entries).
   * Returns the UIDs swept; never touches a VM whose namespace exists. Never throws.
   */
  sweep(): Promise<string[]>;
}
