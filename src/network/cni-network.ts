import type { NetworkMode } from '../api/index.js';
import { AppError, failedPrecondition, toAppError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { Tracer } from '../system/trace.js';
import { CNIRunner, type NetworkConfigList } from './cni/cni-runner.js';
import { ipv4Of } from './cni/cni-result.js';
import {
  attachInterface,
  attachmentOf,
  type AttachedInterface,
  type InterfaceParts,
  type InterfacePlan,
} from './cni-interface.js';
import { DHCPServer } from './dhcp-server.js';
import { systemExec, tracedExec, type ExecPort, type ProcessPort } from './exec-port.js';
import { IPAMReservations, RESERVE_IF } from './ipam-reservations.js';
import { placeholderHolds, sweepLeftovers, type SweepTarget } from './leftover-sweep.js';
import { NetnsPlumbing } from './netns-plumbing.js';
import { interfacePlans } from './interface-plans.js';
import { NetworkFiles, vmOfInterface } from './network-state.js';
import { guestMac } from './stable-mac.js';
import type {
  NetworkAttachRequest,
  NetworkAttachment,
  NamedNetworkTarget,
  NetworkLinks,
  NetworkVMRef,
  VMNetwork,
} from './vm-network.js';

export interface CNINetworkOptions {
  dataDir: string;
  /** Where the `cni` mode's network configuration is found (/etc/cni/net.d). */
  confDir?: string;
  pluginPaths?: string[];
  logger?: Logger;
  /** Traces each program the network runs (IGNITE_TRACE). */
  trace?: Tracer;
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

/**
 * The VMNetwork over CNI. For `cni` and `docker-bridge`, or for each named network it joins, a
 * VM gets, in one network namespace `ignite-<uid>`:
 * - an interface `eth<n>` joined to the CNI network;
 * - a tap `tap<n>` beside it, joined to `eth<n>` both ways with tc mirred redirects, so the
 *   guest's n-th NIC uses its MAC and takes over its address. tc-redirect rather than an
 *   in-namespace bridge: nothing in the namespace has to learn addresses, and the CNI bridge, its
 *   ARP and portmap's DNAT reach the guest as they would reach a container (NetnsPlumbing);
 * - a DHCP server on the tap that answers the guest's MAC with exactly that address, and on the
 *   first interface also the gateway, DNS and its hostname (DHCPServer).
 * Addresses are reserved at create (IPAMReservations) and handed over by the first attach, then
 * released at detach, as a container's are. What DEL needs is kept outside the VM's directory
 * (NetworkFiles), so leftovers can be collected even after the VM was removed. `none` without
 * named networks gives no network at all.
 */
export class CNINetwork implements VMNetwork {
  private readonly files: NetworkFiles;
  private readonly exec: ExecPort;
  private readonly cni: CNIRunner;
  private readonly plumbing: NetnsPlumbing;
  private readonly reservations: IPAMReservations;
  private readonly dhcp: DHCPServer;
  private readonly parts: InterfaceParts;

  constructor(private readonly options: CNINetworkOptions) {
    const exec = options.exec ?? systemExec;
    this.exec = options.trace !== undefined ? tracedExec(exec, options.trace) : exec;
    this.files = new NetworkFiles(options.dataDir);
    this.cni = new CNIRunner(options.pluginPaths, this.exec);
    this.plumbing = new NetnsPlumbing(this.exec, options.netnsDir);
    this.reservations = new IPAMReservations(this.files, this.cni, options.logger);
    this.dhcp = new DHCPServer(this.files, options.processes);
    this.parts = {
      files: this.files,
      exec: this.exec,
      cni: this.cni,
      plumbing: this.plumbing,
      reservations: this.reservations,
      dhcp: this.dhcp,
      logger: options.logger,
      nameservers: options.nameservers,
    };
  }

  /** The VM's namespace, which all its interfaces share; a key names the VM's. */
  static netnsName(key: string): string {
    return `ignite-${vmOfInterface(key)}`;
  }

  async reserve(
    req: NetworkVMRef & { mode: NetworkMode; networks?: readonly NamedNetworkTarget[] | undefined },
  ): Promise<string | undefined> {
    const ifaces = await interfacePlans(req, this.options.confDir, this.options.logger);
    if (ifaces.length === 0) return undefined;
    // Swept alongside: the sweep leaves reservations alone. Addresses it frees may be the only
    // ones left, so a network found full is asked again once the sweep freed something.
    const sweeping = this.sweep();
    try {
      return await this.reserveEach(req, ifaces);
    } catch (err) {
      if (!AppError.is(err, 'Unavailable') || (await sweeping).length === 0) throw err;
      return this.reserveEach(req, ifaces);
    } finally {
      await sweeping;
    }
  }

  private async reserveEach(
    req: NetworkVMRef,
    ifaces: readonly InterfacePlan[],
  ): Promise<string | undefined> {
    let first: string | undefined;
    for (const f of ifaces) {
      // An attached VM's address is its interface's: asking again reserves no second one.
      const ip =
        (await this.attachedAddress(f.key)) ??
        (await this.reservations.reserve(
          f.key,
          f.list,
          `vm "${req.name}"`,
          f.target?.ip !== undefined ? { ip: f.target.ip, network: f.target.name } : undefined,
        ));
      first ??= ip;
    }
    return first;
  }

  async attach(req: NetworkAttachRequest): Promise<NetworkAttachment> {
    const ifaces = await interfacePlans(req, this.options.confDir, this.options.logger);
    if (ifaces.length === 0) return { ipAddresses: [] };
    const label = `vm "${req.name}"`;
    if (req.guestAddress !== undefined && ifaces.length > 1)
      throw failedPrecondition(`${label}: a clone has one interface; its source has several`);
    const netns = CNINetwork.netnsName(req.uid);
    await this.teardown(await this.files.interfaceKeys(req.uid), label);
    const keys = ifaces.map((f) => f.key);
    let sweeping: Promise<unknown> | undefined;
    try {
      await this.plumbing.add(netns);
      const early = await this.linksAhead(req, netns, ifaces);
      // Other VMs' leftovers are swept alongside the rest. The sweep never touches a VM whose
      // namespace exists, so it starts only once this one's is made: started before, it could
      // find the namespace missing, then take this VM's new DHCP server for a leftover and end
      // it. It starts after a hypervisor told of the links has started, too: its reads would
      // hold up that start, which the guest's whole boot waits for.
      sweeping = this.sweep();
      const nics: AttachedInterface[] = [];
      for (const [i, f] of ifaces.entries()) {
        const reserved = await this.files.readReservation(f.key);
        nics.push(
          await attachInterface(this.parts, {
            ...f,
            list: reserved?.list ?? f.list,
            netns,
            name: req.name,
            label,
            guestAddress: req.guestAddress,
            early: early?.nics[i],
          }),
        );
      }
      await sweeping;
      return attachmentOf(netns, nics);
    } catch (err) {
      // The sweep first: once this VM's namespace is gone, the sweep may take it for a leftover.
      await sweeping;
      await this.teardown(keys, label).catch(() => undefined);
      throw err;
    }
  }

  /**
   * For a hypervisor that can start before the attach completes (onLinksReady): the taps made in
   * `netns`, each with the guest MAC its uplink will take, and the caller told. A clone's guest
   * keeps the MAC it was saved with, so its links are not made ahead.
   */
  private async linksAhead(
    req: NetworkAttachRequest,
    netns: string,
    ifaces: readonly InterfacePlan[],
  ): Promise<NetworkLinks | undefined> {
    if (req.onLinksReady === undefined || req.guestAddress !== undefined) return undefined;
    const links: NetworkLinks = {
      netns,
      nics: ifaces.map((f) => ({
        tapName: `tap${f.index}`,
        mac: f.target?.mac ?? guestMac(f.key),
      })),
    };
    await this.plumbing.addTaps(
      netns,
      links.nics.map((n) => n.tapName),
    );
    await Promise.resolve(req.onLinksReady(links)).catch(() => undefined);
    return links;
  }

  async detach(req: { uid: string; keepAddress?: boolean }): Promise<void> {
    const label = `vm ${req.uid}`;
    const keys = await this.files.interfaceKeys(req.uid);
    if (req.keepAddress !== true) return this.teardown(keys, label);
    const held: { key: string; list: NetworkConfigList; ip: string }[] = [];
    for (const key of keys) {
      const state = await this.files.readState(key);
      const ip = state?.result !== undefined ? ipv4Of(state.result)?.address : undefined;
      if (state !== undefined && ip !== undefined) held.push({ key, list: state.list, ip });
    }
    // Under the IPAM lock from the release to the new reservation: no other VM can take it.
    await this.reservations.locked(async () => {
      await this.teardown(keys, label);
      for (const h of held) await this.reservations.holdLocked(h.key, h.list, h.ip, label);
    });
  }

  async release(req: { uid: string }): Promise<void> {
    const label = `vm ${req.uid}`;
    const keys = await this.files.interfaceKeys(req.uid);
    let failure: AppError | undefined;
    await this.teardown(keys, label).catch((err: unknown) => (failure = toAppError(err)));
    // A VM removed before it ever started still holds its addresses under the placeholder.
    for (const key of keys) await this.reservations.release(key, label);
    // So may one whose create was killed while reserving, with no record of it here: found by
    // its container ID.
    for (const held of await placeholderHolds(this.sweepTarget(), req.uid))
      await this.reservations.releaseUnrecorded(held.key, held.list, label);
    if (failure !== undefined) throw failure;
  }

  async leases(uid: string): Promise<number> {
    let n = 0;
    for (const key of await this.files.interfaceKeys(uid)) n += await this.dhcp.leases(key);
    return n;
  }

  /** See sweepLeftovers in leftover-sweep.ts. */
  async sweep(): Promise<string[]> {
    try {
      return await sweepLeftovers(this.sweepTarget());
    } catch (err) {
      this.options.logger?.warn({ err }, `network: sweep failed: ${toAppError(err).message}`);
      return [];
    }
  }

  private sweepTarget(): SweepTarget {
    return {
      confDir: this.options.confDir,
      logger: this.options.logger,
      placeholderIf: RESERVE_IF,
      netnsName: (uid) => CNINetwork.netnsName(uid),
      exec: this.exec,
      plumbing: this.plumbing,
      files: this.files,
      hostLocalDir: this.options.hostLocalDir,
      namedConfDir: this.options.namedConfDir,
      teardown: (key) => this.teardown([key], `vm ${key}`),
    };
  }

  /**
   * Undoes attach for the VM's interfaces `keys` (its UID first): DHCP servers, CNI DELs
   * (releasing the addresses), then the namespace they share. Idempotent.
   */
  private async teardown(keys: readonly string[], label: string): Promise<void> {
    const [first] = keys;
    if (first === undefined) return;
    const netns = CNINetwork.netnsName(first);
    let failure: unknown;
    for (const key of keys) {
      const state = await this.files.readState(key);
      await this.dhcp.stop(key, state?.dhcpPid);
      if (state === undefined) continue;
      // The bridge plugin finds what to un-masquerade from the uplink's address, which the guest
      // took over at attach: give it back first, or the NAT rules of this VM would stay behind.
      const ip = state.result?.ips?.find((i) => !i.address.includes(':'));
      if (ip && this.plumbing.exists(netns))
        await this.plumbing.restoreAddress(netns, state.runtime.ifName, ip.address);
      await this.cni
        .del(state.list, state.runtime, state.result, label)
        .catch((err: unknown) => (failure ??= err));
    }
    await this.plumbing.delete(netns);
    if (failure === undefined) {
      for (const key of keys) await this.files.removeAttachment(key);
      return;
    }
    const err = toAppError(failure);
    this.options.logger?.warn({ uid: first, err }, `network teardown of ${first}: ${err.message}`);
    throw err;
  }

  /** The address of an interface's attachment, while its namespace exists. */
  private async attachedAddress(key: string): Promise<string | undefined> {
    const state = await this.files.readState(key);
    if (state?.result === undefined || !this.plumbing.exists(state.netns)) return undefined;
    return ipv4Of(state.result)?.address;
  }
}
