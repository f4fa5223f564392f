import type { NetworkMode } from '../api/index.js';
import { failedPrecondition, toAppError, type AppError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import {
  CNIRunner,
  DEFAULT_CNI_CONF_DIR,
  loadNetworkConfig,
  type CNIRuntime,
  type NetworkConfigList,
} from './cni/cni-runner.js';
import { repairZeroMacBridges } from './cni/bridge-repair.js';
import { hostVeth, ipv4Of } from './cni/cni-result.js';
import { DEFAULT_NETWORK, installDefaultNetwork } from './default-network.js';
import { DHCP_SERVER_IP, DHCPServer } from './dhcp-server.js';
import { systemExec, type ExecPort, type ProcessPort } from './exec-port.js';
import { IPAMReservations, RESERVE_IF } from './ipam-reservations.js';
import { sweepLeftovers } from './leftover-sweep.js';
import { NetnsPlumbing } from './netns-plumbing.js';
import { NetworkFiles, type NetworkState } from './network-state.js';
import type {
  NetworkAttachRequest,
  NetworkAttachment,
  NamedNetworkTarget,
  NetworkVMRef,
  VMNetwork,
} from './vm-network.js';

export interface CNINetworkOptions {
  dataDir: string;
  /** Where the `cni` mode's network configuration is found (/etc/cni/net.d). */
  confDir?: string;
  pluginPaths?: string[];
  logger?: Logger;
  /** Resolvers handed to guests (the host's, minus loopback stubs). */
  nameservers?: () => Promise<string[]>;
  /** Runs ip, tc, iptables and the CNI plugins; the host's unless a test records them. */
  exec?: ExecPort;
  /** Starts and signals the DHCP servers; the host's unless a test stands in. */
  processes?: ProcessPort;
  /** Where `ip netns` keeps named namespaces (/run/netns). */
  netnsDir?: string;
  /** Where the named networks' CNI configuration lists are, for the sweep (`<dataDir>/cni`). */
  namedConfDir?: string;
  /** Where the host-local IPAM plugin keeps its addresses (/var/lib/cni/networks). */
  hostLocalDir?: string;
}

/** The namespace's CNI interface, and the tap the hypervisor's NIC uses beside it. */
const UPLINK = 'eth0';
const TAP = 'tap0';

/**
 * The VMNetwork over CNI. For `cni` and `docker-bridge` a VM gets:
 * - a network namespace `ignite-<uid>`, joined to a CNI network (its `eth0`);
 * - a tap `tap0` in it, joined to `eth0` both ways with tc mirred redirects, so the guest uses
 *   eth0's MAC and takes over its address. tc-redirect rather than an in-namespace bridge: nothing
 *   in the namespace has to learn addresses, and the CNI bridge, its ARP and portmap's DNAT reach
 *   the guest as they would reach a container (NetnsPlumbing);
 * - a DHCP server in the namespace that answers the guest's MAC with exactly that address, the
 *   gateway, DNS and its hostname (DHCPServer).
 * The address is reserved at create (IPAMReservations) and handed to eth0 by the first attach;
 * from then on it is released at detach, as a container's is. What DEL needs later is kept in
 * `<dataDir>/network/<uid>.json` (NetworkFiles), outside the VM's directory, so leftovers can be
 * collected even after the VM was removed. `none` gives no network at all.
 */
export class CNINetwork implements VMNetwork {
  private readonly files: NetworkFiles;
  private readonly exec: ExecPort;
  private readonly cni: CNIRunner;
  private readonly plumbing: NetnsPlumbing;
  private readonly reservations: IPAMReservations;
  private readonly dhcp: DHCPServer;

  constructor(private readonly options: CNINetworkOptions) {
    this.exec = options.exec ?? systemExec;
    this.files = new NetworkFiles(options.dataDir);
    this.cni = new CNIRunner(options.pluginPaths, this.exec);
    this.plumbing = new NetnsPlumbing(this.exec, options.netnsDir);
    this.reservations = new IPAMReservations(this.files, this.cni, options.logger);
    this.dhcp = new DHCPServer(this.files, options.processes);
  }

  static netnsName(uid: string): string {
    return `ignite-${uid}`;
  }

  async reserve(
    req: NetworkVMRef & { mode: NetworkMode; network?: NamedNetworkTarget | undefined },
  ): Promise<string | undefined> {
    if (req.mode === 'none' && req.network === undefined) return undefined;
    const list = req.network?.list ?? (await this.networkFor(req.mode));
    await this.sweep();
    // An attached VM's address is its interface's: asking again reserves no second one.
    const attached = await this.attachedAddress(req.uid);
    if (attached !== undefined) return attached;
    const wanted = req.network?.ip;
    return this.reservations.reserve(
      req.uid,
      list,
      `vm "${req.name}"`,
      wanted !== undefined ? { ip: wanted, network: req.network?.name ?? list.name } : undefined,
    );
  }

  async attach(req: NetworkAttachRequest): Promise<NetworkAttachment> {
    if (req.mode === 'none' && req.network === undefined) return { ipAddresses: [] };
    const label = `vm "${req.name}"`;
    const netns = CNINetwork.netnsName(req.uid);
    const reserved = await this.files.readReservation(req.uid);
    const list = reserved?.list ?? req.network?.list ?? (await this.networkFor(req.mode));
    await this.teardown(req.uid, label);
    // Other VMs' leftovers are swept alongside: the sweep never touches a VM whose namespace
    // exists, and this one's is made before anything of it is added.
    const sweeping = this.sweep();
    const runtime: CNIRuntime = {
      containerId: `ignite-${req.uid}`,
      netns: this.plumbing.path(netns),
      ifName: UPLINK,
      portMappings: req.ports.map((p) => ({
        hostPort: p.hostPort,
        containerPort: p.vmPort,
        protocol: p.protocol ?? 'tcp',
      })),
    };
    const state: NetworkState = { uid: req.uid, netns, list, runtime };
    try {
      await this.files.saveState(state);
      await this.plumbing.add(netns);
      state.result = await this.reservations.handOver(req.uid, label, async (reservation) => {
        const ip = reservation?.ip ?? req.network?.ip;
        if (ip !== undefined) runtime.args = `IgnoreUnknown=1;IP=${ip}`;
        await repairZeroMacBridges(list, this.exec, this.options.logger);
        return this.cni.add(list, runtime, label);
      });
      await this.files.saveState(state);
      const ip = ipv4Of(state.result);
      if (ip === undefined)
        throw failedPrecondition(`${label}: network "${list.name}" gave no IPv4 address`);
      if (req.network?.isolated === true)
        await this.plumbing.isolatePort(hostVeth(list, state.result));
      if (req.network?.mac !== undefined)
        await this.plumbing.setMAC(netns, UPLINK, req.network.mac);
      const { mac, mtu } = await this.plumbing.linkInfo(netns, UPLINK);
      if (req.guestAddress !== undefined) {
        await this.plumbing.plumbNAT(netns, {
          uplink: UPLINK,
          tap: TAP,
          mtu,
          outside: ip.address,
          inside: req.guestAddress.address,
        });
        await sweeping;
        return {
          netns,
          tapName: TAP,
          mac,
          ipAddresses: [ip.address],
          prefixLength: ip.prefixLength,
        };
      }
      await this.plumbing.plumbTap(netns, {
        uplink: UPLINK,
        tap: TAP,
        mtu,
        serverIP: DHCP_SERVER_IP,
      });
      const lease = {
        iface: TAP,
        mac,
        address: ip.address,
        prefixLength: ip.prefixLength,
        gateway: ip.gateway,
        nameservers: (await this.options.nameservers?.()) ?? [],
        hostname: req.name,
      };
      state.dhcpPid = await this.dhcp.start(req.uid, netns, lease, label);
      await this.files.saveState(state);
      await sweeping;
      return {
        netns,
        tapName: TAP,
        mac,
        ipAddresses: [ip.address],
        ...(ip.gateway !== undefined ? { gateway: ip.gateway } : {}),
        prefixLength: ip.prefixLength,
      };
    } catch (err) {
      // The sweep first: once this VM's namespace is gone, the sweep may take it for a leftover.
      await sweeping;
      await this.teardown(req.uid, label).catch(() => undefined);
      throw err;
    }
  }

  async detach(req: { uid: string; keepAddress?: boolean }): Promise<void> {
    const label = `vm ${req.uid}`;
    const state = req.keepAddress === true ? await this.files.readState(req.uid) : undefined;
    const ip = state?.result !== undefined ? ipv4Of(state.result)?.address : undefined;
    if (state === undefined || ip === undefined) return this.teardown(req.uid, label);
    // Under the IPAM lock from the release to the new reservation: no other VM can take it.
    await this.reservations.locked(async () => {
      await this.teardown(req.uid, label);
      await this.reservations.holdLocked(req.uid, state.list, ip, label);
    });
  }

  async release(req: { uid: string }): Promise<void> {
    const label = `vm ${req.uid}`;
    let failure: AppError | undefined;
    await this.teardown(req.uid, label).catch((err: unknown) => (failure = toAppError(err)));
    // A VM removed before it ever started still holds its address under the placeholder.
    await this.reservations.release(req.uid, label);
    if (failure !== undefined) throw failure;
  }

  leases(uid: string): Promise<number> {
    return this.dhcp.leases(uid);
  }

  /** See sweepLeftovers in leftover-sweep.ts. */
  async sweep(): Promise<string[]> {
    try {
      return await sweepLeftovers({
        confDir: this.options.confDir,
        logger: this.options.logger,
        placeholderIf: RESERVE_IF,
        netnsName: (uid) => CNINetwork.netnsName(uid),
        exec: this.exec,
        plumbing: this.plumbing,
        files: this.files,
        hostLocalDir: this.options.hostLocalDir,
        namedConfDir: this.options.namedConfDir,
        teardown: (uid) => this.teardown(uid, `vm ${uid}`),
      });
    } catch (err) {
      this.options.logger?.warn({ err }, `network: sweep failed: ${toAppError(err).message}`);
      return [];
    }
  }

  /** Undoes attach: DHCP server, CNI DEL (releasing eth0's address), the namespace. Idempotent. */
  private async teardown(uid: string, label: string): Promise<void> {
    const state = await this.files.readState(uid);
    const netns = CNINetwork.netnsName(uid);
    await this.dhcp.stop(uid, state?.dhcpPid);
    let failure: unknown;
    if (state) {
      // The bridge plugin finds what to un-masquerade from eth0's address, which the guest took
      // over at attach: give it back first, or the NAT rules of this VM would stay behind.
      const ip = state.result?.ips?.find((i) => !i.address.includes(':'));
      if (ip && this.plumbing.exists(netns))
        await this.plumbing.restoreAddress(netns, UPLINK, ip.address);
      await this.cni
        .del(state.list, state.runtime, state.result, label)
        .catch((err: unknown) => (failure = err));
    }
    await this.plumbing.delete(netns);
    if (failure === undefined) return this.files.removeAttachment(uid);
    const err = toAppError(failure);
    this.options.logger?.warn({ uid, err }, `network teardown of ${uid}: ${err.message}`);
    throw err;
  }

  /** The address of the VM's attachment, while its namespace exists. */
  private async attachedAddress(uid: string): Promise<string | undefined> {
    const state = await this.files.readState(uid);
    if (state?.result === undefined || !this.plumbing.exists(state.netns)) return undefined;
    return ipv4Of(state.result)?.address;
  }

  private async networkFor(mode: NetworkMode): Promise<NetworkConfigList> {
    if (mode === 'docker-bridge') return DEFAULT_NETWORK;
    const dir = this.options.confDir ?? DEFAULT_CNI_CONF_DIR;
    const found = await loadNetworkConfig(dir);
    if (found) return found;
    await installDefaultNetwork(dir);
    this.options.logger?.info(
      { dir },
      'no CNI configuration found: installed the default ignite network',
    );
    return DEFAULT_NETWORK;
  }
}
