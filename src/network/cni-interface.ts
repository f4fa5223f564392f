import type { PortMapping } from '../api/index.js';
import { failedPrecondition } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { CNIRunner, CNIRuntime, NetworkConfigList } from './cni/cni-runner.js';
import { repairZeroMacBridges } from './cni/bridge-repair.js';
import { hostVeth, ipv4Of } from './cni/cni-result.js';
import { DHCP_SERVER_IP, type DHCPServer } from './dhcp-server.js';
import type { ExecPort } from './exec-port.js';
import type { IPAMReservations } from './ipam-reservations.js';
import type { NetnsPlumbing } from './netns-plumbing.js';
import type { AttachedInterface, NetworkFiles, NetworkState } from './network-state.js';
import type { NamedNetworkTarget, NetworkAttachment } from './vm-network.js';

/** One interface of a VM to attach: eth<index> in its namespace, with tap<index> beside it. */
export interface InterfacePlan {
  /** The VM's UID for its first interface, `<uid>.<index>` for the others. */
  key: string;
  index: number;
  list: NetworkConfigList;
  target?: NamedNetworkTarget;
  /** The host ports mapped to this interface. */
  ports: readonly PortMapping[];
}

/** What the interfaces of CNINetwork are attached with. */
export interface InterfaceParts {
  files: NetworkFiles;
  exec: ExecPort;
  cni: CNIRunner;
  plumbing: NetnsPlumbing;
  reservations: IPAMReservations;
  dhcp: DHCPServer;
  logger: Logger | undefined;
  nameservers: (() => Promise<string[]>) | undefined;
}

export type { AttachedInterface };

/** The VM's attachment, from its interfaces in order, all in `netns`. */
export function attachmentOf(netns: string, nics: readonly AttachedInterface[]): NetworkAttachment {
  const [first] = nics;
  return {
    netns,
    ...(first !== undefined ? { tapName: first.tapName, mac: first.mac } : {}),
    nics: nics.map((n) => ({ tapName: n.tapName, mac: n.mac })),
    ipAddresses: nics.map((n) => n.address),
    ...(first?.gateway !== undefined ? { gateway: first.gateway } : {}),
    ...(first !== undefined ? { prefixLength: first.prefixLength } : {}),
  };
}

/** The host ports of an interface, as its CNI runtime config gives them to portmap. */
function portMappingsOf(ports: readonly PortMapping[]): NonNullable<CNIRuntime['portMappings']> {
  return ports.map((m) => ({
    hostPort: m.hostPort,
    containerPort: m.vmPort,
    protocol: m.protocol ?? 'tcp',
  }));
}

/**
 * Attaches one interface in the VM's namespace (which exists): the CNI ADD of its uplink with
 * the reserved or static address, isolation and MAC as its network asks, then either the tap
 * joined to the uplink with a DHCP server for the guest, or, for a clone's first interface, the
 * tap behind NAT to the address its guest kept. Only the first interface's lease gives the guest
 * a default route, DNS and its hostname: the others give it just their subnet.
 */
export async function attachInterface(
  p: InterfaceParts,
  f: InterfacePlan & {
    netns: string;
    name: string;
    label: string;
    guestAddress?: { address: string; prefixLength: number } | undefined;
    /** The tap was made ahead and the hypervisor given this MAC for the guest (see addTaps). */
    early?: { mac: string } | undefined;
  },
): Promise<AttachedInterface> {
  const uplink = `eth${f.index}`;
  const tap = `tap${f.index}`;
  const runtime: CNIRuntime = {
    containerId: `ignite-${f.key}`,
    netns: p.plumbing.path(f.netns),
    ifName: uplink,
    portMappings: portMappingsOf(f.ports),
  };
  const state: NetworkState = { uid: f.key, netns: f.netns, list: f.list, runtime };
  await p.files.saveState(state);
  state.result = await p.reservations.handOver(f.key, f.label, async (reservation) => {
    const ip = reservation?.ip ?? f.target?.ip;
    if (ip !== undefined) runtime.args = `IgnoreUnknown=1;IP=${ip}`;
    await repairZeroMacBridges(f.list, p.exec, p.logger);
    return p.cni.add(f.list, runtime, f.label);
  });
  await p.files.saveState(state);
  const ip = ipv4Of(state.result);
  if (ip === undefined)
    throw failedPrecondition(`${f.label}: network "${f.list.name}" gave no IPv4 address`);
  if (f.target?.isolated === true) await p.plumbing.isolatePort(hostVeth(f.list, state.result));
  // Made ahead, the guest's MAC is given to the uplink with the tap's plumbing, below.
  if (f.target?.mac !== undefined && f.early === undefined)
    await p.plumbing.setMAC(f.netns, uplink, f.target.mac);
  const info = await p.plumbing.linkInfo(f.netns, uplink);
  const { mtu } = info;
  const mac = f.early?.mac ?? info.mac;
  const attached = { tapName: tap, mac, address: ip.address, prefixLength: ip.prefixLength };
  if (f.guestAddress !== undefined) {
    await p.plumbing.plumbNAT(f.netns, {
      uplink,
      tap,
      mtu,
      outside: ip.address,
      inside: f.guestAddress.address,
    });
    return attached;
  }
  await p.plumbing.plumbTap(f.netns, {
    uplink,
    tap,
    mtu,
    serverIP: DHCP_SERVER_IP,
    ...(f.early !== undefined ? { mac: f.early.mac, tapMade: true } : {}),
  });
  const first = f.index === 0;
  state.dhcpPid = await p.dhcp.start(
    f.key,
    f.netns,
    p.plumbing.path(f.netns),
    {
      iface: tap,
      mac,
      address: ip.address,
      prefixLength: ip.prefixLength,
      gateway: first ? ip.gateway : undefined,
      nameservers: first ? ((await p.nameservers?.()) ?? []) : [],
      hostname: first ? f.name : undefined,
    },
    f.label,
  );
  await p.files.saveState(state);
  return { ...attached, ...(ip.gateway !== undefined ? { gateway: ip.gateway } : {}) };
}
