import type { NetworkMode, PortMapping } from '../api/index.js';
import type { NetworkConfigList } from './cni/cni-runner.js';

/**
 * A named network a VM's interface joins instead of its mode's network, with the address and
 * MAC asked for it, if any. The operations resolve it from the Network object.
 */
export interface NamedNetworkTarget {
  name: string;
  list: NetworkConfigList;
  /** The VM's port on the bridge is isolated: it reaches the gateway, not its peers. */
  isolated: boolean;
  /** A static address, reserved and handed to the guest. */
  ip?: string | undefined;
  mac?: string | undefined;
}

/** Who a network request is for: the VM's UID keys everything the network keeps for it. */
export interface NetworkVMRef {
  uid: string;
  /** The VM's name, for messages and the guest's DHCP hostname. */
  name: string;
}

export interface NetworkAttachRequest extends NetworkVMRef {
  mode: NetworkMode;
  /**
   * The named networks of the VM's interfaces, in order (eth0, eth1, …); one interface on its
   * mode's network when empty or absent. A port maps to the interface of the network it names,
   * else to the first.
   */
  networks?: readonly NamedNetworkTarget[] | undefined;
  ports: readonly PortMapping[];
  /**
   * A guest that keeps an address of its own in memory (a clone of a snapshot): the VM's address
   * is NATed to it inside the VM's namespace, so every clone has its own outside address while
   * its guest has the one it was saved with. No DHCP server is run for it.
   */
  guestAddress?: { address: string; prefixLength: number };
  /**
   * Told, when the network has them before the attach completes, the namespace and the taps with
   * their guests' MACs: a hypervisor can start on them while the rest (addresses, NAT, the DHCP
   * server) is made, which its guest needs only once it has booted. Never told for a clone.
   * The attach goes on once what it returns has settled: a hypervisor started on the links then
   * has the process to itself until its guest runs, which the rest of the attach (a run of
   * programs, each a fork of this process) would otherwise hold back.
   */
  onLinksReady?: (links: NetworkLinks) => void | Promise<void>;
}

/** A VM's namespace and taps, each with the MAC its guest NIC must have. */
export interface NetworkLinks {
  netns: string;
  nics: { tapName: string; mac: string }[];
}

/** What a VM's hypervisor needs to join its network, and what its status reports. */
export interface NetworkAttachment {
  /** The network namespace the hypervisor runs in (absent for `none`). */
  netns?: string;
  /** The first interface's tap device, in `netns`, and its MAC. */
  tapName?: string;
  mac?: string;
  /** Every interface's tap, in `netns`, and MAC, in the guest's order (eth0, eth1, …). */
  nics?: { tapName: string; mac: string }[];
  /** Every interface's address, first interface first. */
  ipAddresses: string[];
  gateway?: string;
  prefixLength?: number;
  /** `user` mode: how the hypervisor's NIC reaches the outside (no namespace, no tap). */
  user?: UserNIC;
}

/** A host port forwarded into the guest by user networking. */
export interface UserForward {
  protocol: 'tcp' | 'udp';
  /** The host address it is bound to; all addresses when absent. */
  hostAddress?: string;
  hostPort: number;
  vmPort: number;
}

/**
 * A NIC served by an unprivileged user-mode stack. `passt`: a passt process of the VM's, whose
 * unix socket the hypervisor connects to (QEMU `-netdev stream`); it forwards the ports itself.
 * `slirp`: QEMU's built-in stack, which forwards `forwards` (`hostfwd=`). Either way the guest's
 * SSH is forwarded from `127.0.0.1:<sshPort>`.
 */
export type UserNIC =
  | { backend: 'passt'; mac: string; socket: string; sshPort: number }
  | { backend: 'slirp'; mac: string; forwards: UserForward[]; sshPort: number };

/**
 * The network as the use cases see it. A VM's address is reserved at create, so concurrent
 * creates get distinct ones; attach, at start, hands it to the VM's interface; detach, at stop,
 * undoes attach; release, at rm, gives back whatever the VM still holds. Every step is idempotent
 * and may be repeated after a crash. Implementations: CNINetwork (the host's), MemoryVMNetwork
 * (tests); test/suites/vm-network.suite.ts states this contract for both.
 */
export interface VMNetwork {
  /**
   * Reserves the VM's address; returns it, or undefined for `none` and `user` (whose host ports
   * are checked here instead: below the unprivileged port start they are refused at once). Repeats return the same one,
   * and so does a reserve while the VM is attached. Unavailable when the network has none left.
   */
  reserve(
    req: NetworkVMRef & {
      mode: NetworkMode;
      ports?: readonly PortMapping[];
      networks?: readonly NamedNetworkTarget[] | undefined;
    },
  ): Promise<string | undefined>;
  /**
   * Joins the VM to its network with its reserved address, or a new one when it holds none (after
   * a detach or a release). With `network.ip`, exactly that address: AlreadyExists when another
   * VM holds it. A leftover of an earlier run of the same VM goes first. `none` gives
   * no namespace and no address.
   */
  attach(req: NetworkAttachRequest): Promise<NetworkAttachment>;
  /**
   * Undoes attach (namespace, tap, DHCP server, the CNI attachment), releasing the address the
   * attachment held, as a container's is at stop. A reservation not yet handed over stays.
   * Idempotent; a VM the network does not know is a no-op. With `keepAddress` (a VM stopped with
   * its memory saved, whose guest keeps its address), the address is reserved for the VM again,
   * so the next attach hands it back.
   */
  detach(req: { uid: string; keepAddress?: boolean }): Promise<void>;
  /** Releases everything the VM holds, its reserved address included. Idempotent. */
  release(req: { uid: string }): Promise<void>;
  /** How many DHCP leases the VM's server handed out since attach (a metric); 0 for none. */
  leases(uid: string): Promise<number>;
  /**
   * Collects what VMs that no longer run left behind (namespaces, NAT rules, IPAM entries).
   * Returns the UIDs swept; never touches a VM whose namespace exists, nor a reservation.
   * Never throws.
   */
  sweep(): Promise<string[]>;
}
