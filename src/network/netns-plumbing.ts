import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { failedPrecondition } from '../errors.js';
import { systemExec, type ExecPort } from './exec-port.js';

/**
 * The links inside a VM's network namespace, set up with one `ip` and one `tc` process each
 * reading a batch, instead of an `ip netns exec` per command: each of those is a process pair,
 * and together they would be most of a VM's network set-up time.
 */
export interface TapPlumbing {
  /** The namespace's CNI interface, whose MAC and address the guest takes over. */
  uplink: string;
  tap: string;
  mtu: number;
  /** A link-local address on the tap for the DHCP server, which the guest never routes to. */
  serverIP: string;
  /** The guest's MAC, which the uplink then takes too; the uplink's own when absent. */
  mac?: string;
  /** The tap was made ahead (addTaps), for the hypervisor to open while the rest is made. */
  tapMade?: boolean;
}

const NAME = /^[A-Za-z0-9_.-]{1,15}$/;
const IPV4 = /^(\d{1,3}\.){3}\d{1,3}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** Batch lines carry no quoting: every value in them is checked to be one plain word. */
function checked(p: TapPlumbing): TapPlumbing {
  if (
    !NAME.test(p.uplink) ||
    !NAME.test(p.tap) ||
    !IPV4.test(p.serverIP) ||
    (p.mac !== undefined && !MAC.test(p.mac))
  )
    throw failedPrecondition(`network: bad interface plumbing ${JSON.stringify(p)}`);
  if (!Number.isInteger(p.mtu) || p.mtu < 68 || p.mtu > 65535)
    throw failedPrecondition(`network: bad MTU ${p.mtu}`);
  return p;
}

/**
 * `ip -batch` lines: loopback up, the uplink's address dropped (and its MAC made the guest's),
 * the tap made unless it was, and addressed.
 */
export function ipBatch(plumbing: TapPlumbing): string {
  const p = checked(plumbing);
  return [
    'link set lo up',
    `addr flush dev ${p.uplink}`,
    ...(p.mac !== undefined ? [`link set dev ${p.uplink} address ${p.mac}`] : []),
    ...(p.tapMade === true ? [] : [`tuntap add dev ${p.tap} mode tap`]),
    `link set ${p.tap} mtu ${p.mtu} up`,
    `addr add ${p.serverIP}/32 dev ${p.tap}`,
    '',
  ].join('\n');
}

/**
 * `tc -batch` lines: every frame from the uplink goes to the tap and back, except DHCP requests
 * from the guest, which a u32 match without an action keeps in the namespace for the server.
 */
export function tcBatch(plumbing: TapPlumbing): string {
  const p = checked(plumbing);
  const redirect = (from: string, to: string, prio: number) =>
    `filter add dev ${from} parent ffff: prio ${prio} protocol all u32 match u8 0 0 action mirred egress redirect dev ${to}`;
  return [
    `qdisc add dev ${p.uplink} ingress`,
    redirect(p.uplink, p.tap, 1),
    `qdisc add dev ${p.tap} ingress`,
    `filter add dev ${p.tap} parent ffff: prio 1 protocol ip u32 match ip protocol 17 0xff match ip dport 67 0xffff flowid ffff:1`,
    redirect(p.tap, p.uplink, 2),
    '',
  ].join('\n');
}

/** Where a clone's guest sits behind NAT: its own address, which the namespace's `outside` maps to. */
export interface NATPlumbing {
  uplink: string;
  tap: string;
  mtu: number;
  /** The namespace's own address, on the uplink: the one the host reaches the VM by. */
  outside: string;
  /** The guest's address, routed to the tap. */
  inside: string;
}

/** The `ip -batch` lines of NAT plumbing: the uplink keeps its address, the guest's is routed to the tap. */
export function natIPBatch(plumbing: NATPlumbing): string {
  const p = checkedNAT(plumbing);
  return [
    'link set lo up',
    `tuntap add dev ${p.tap} mode tap`,
    `link set ${p.tap} mtu ${p.mtu} up`,
    `route add ${p.inside}/32 dev ${p.tap}`,
    '',
  ].join('\n');
}

/**
 * The rules of NAT plumbing, for `iptables-restore` in the namespace: what reaches the outside
 * address goes to the guest, what the guest sends leaves from the outside address.
 */
export function natRules(plumbing: NATPlumbing): string {
  const p = checkedNAT(plumbing);
  return [
    '*nat',
    `-A PREROUTING -d ${p.outside}/32 -j DNAT --to-destination ${p.inside}`,
    `-A OUTPUT -d ${p.outside}/32 -j DNAT --to-destination ${p.inside}`,
    `-A POSTROUTING -s ${p.inside}/32 -o ${p.uplink} -j SNAT --to-source ${p.outside}`,
    'COMMIT',
    '',
  ].join('\n');
}

function checkedNAT(p: NATPlumbing): NATPlumbing {
  if (!NAME.test(p.uplink) || !NAME.test(p.tap) || !IPV4.test(p.outside) || !IPV4.test(p.inside))
    throw failedPrecondition(`network: bad NAT plumbing ${JSON.stringify(p)}`);
  if (!Number.isInteger(p.mtu) || p.mtu < 68 || p.mtu > 65535)
    throw failedPrecondition(`network: bad MTU ${p.mtu}`);
  return p;
}

/**
 * A VM's network namespace and the links in it, made with `ip` and `tc` through the exec port.
 * Namespaces are the named ones of `ip netns` (`<netnsDir>/<name>`).
 */
export class NetnsPlumbing {
  constructor(
    private readonly exec: ExecPort = systemExec,
    private readonly netnsDir = '/run/netns',
  ) {}

  /** The path a CNI plugin is given for the namespace. */
  path(netns: string): string {
    return join(this.netnsDir, netns);
  }

  async add(netns: string): Promise<void> {
    await this.exec.run('ip', ['netns', 'add', netns]);
  }

  exists(netns: string): boolean {
    return existsSync(this.path(netns));
  }

  /** Deletes the namespace if it exists (and so every link in it). */
  async delete(netns: string): Promise<void> {
    // Most deletes (every attach starts with one) find no namespace: no process for that.
    if (this.exists(netns)) await this.exec.runUnchecked('ip', ['netns', 'del', netns]);
  }

  /** The names of the namespaces that exist. */
  async namespaces(): Promise<Set<string>> {
    const r = await this.exec.runUnchecked('ip', ['netns', 'list']);
    return new Set([...r.stdout.matchAll(/^(\S+)/gm)].map((m) => m[1] ?? ''));
  }

  /** Makes the taps inside `netns`, down until plumbTap joins each to its uplink. */
  async addTaps(netns: string, taps: readonly string[]): Promise<void> {
    if (taps.some((t) => !NAME.test(t)))
      throw failedPrecondition(`network: bad tap names ${JSON.stringify(taps)}`);
    const lines = taps.map((t) => `tuntap add dev ${t} mode tap`);
    await this.exec.run('ip', ['-n', netns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
  }

  /** Joins the tap to the uplink inside `netns`. */
  async plumbTap(netns: string, plumbing: TapPlumbing): Promise<void> {
    await this.exec.run('ip', ['-n', netns, '-batch', '-'], { input: ipBatch(plumbing) });
    await this.exec.run('tc', ['-n', netns, '-batch', '-'], { input: tcBatch(plumbing) });
  }

  /**
   * Puts a clone's guest behind NAT inside `netns`: its address routed to the tap, which answers
   * the guest's ARP for anything the namespace routes (proxy ARP), forwarding on, and the NAT
   * rules (natRules).
   */
  async plumbNAT(netns: string, plumbing: NATPlumbing): Promise<void> {
    await this.exec.run('ip', ['-n', netns, '-batch', '-'], { input: natIPBatch(plumbing) });
    await this.exec.run('ip', [
      'netns',
      'exec',
      netns,
      'sysctl',
      '-q',
      '-w',
      'net.ipv4.ip_forward=1',
      `net.ipv4.conf.${plumbing.tap}.proxy_arp=1`,
    ]);
    await this.exec.run('ip', ['netns', 'exec', netns, 'iptables-restore', '--noflush'], {
      input: natRules(plumbing),
    });
  }

  /** A link's MAC address and MTU, read inside `netns` by one `ip -json` call. */
  async linkInfo(netns: string, dev: string): Promise<{ mac: string; mtu: number }> {
    const { stdout } = await this.exec.run('ip', [
      '-n',
      netns,
      '-json',
      'link',
      'show',
      'dev',
      dev,
    ]);
    const [link] = JSON.parse(stdout) as { address?: string; mtu?: number }[];
    if (link?.address === undefined || link.mtu === undefined)
      throw failedPrecondition(`network: ${dev} in ${netns} has no MAC address or MTU`);
    return { mac: link.address, mtu: link.mtu };
  }

  /** Sets `dev`'s MAC address inside `netns` (a VM given `--mac`: the guest takes it over). */
  async setMAC(netns: string, dev: string, mac: string): Promise<void> {
    if (!NAME.test(dev) || !MAC.test(mac))
      throw failedPrecondition(`network: bad MAC ${mac} for ${dev}`);
    await this.exec.run('ip', ['-n', netns, 'link', 'set', 'dev', dev, 'address', mac]);
  }

  /**
   * Isolates a host veth's bridge port: the bridge forwards nothing between isolated ports, so
   * the VM reaches the gateway (the bridge itself) and nothing else on it. The port goes with
   * the veth.
   */
  async isolatePort(hostVeth: string): Promise<void> {
    if (!NAME.test(hostVeth)) throw failedPrecondition(`network: bad link "${hostVeth}"`);
    await this.exec.run('bridge', ['link', 'set', 'dev', hostVeth, 'isolated', 'on']);
  }

  /** Puts `address` (CIDR) back on `dev`; a failure (no namespace, no link) is no error. */
  async restoreAddress(netns: string, dev: string, address: string): Promise<void> {
    await this.exec.runUnchecked('ip', ['-n', netns, 'addr', 'add', address, 'dev', dev]);
  }

  /** Makes `dev` in `netns`: a veth pair with both ends inside, since not every kernel has dummy. */
  async addUplink(netns: string, dev: string): Promise<void> {
    const peer = `${dev}p`;
    if (!NAME.test(dev) || !NAME.test(peer)) throw failedPrecondition(`network: bad link "${dev}"`);
    await this.exec.run('ip', [
      '-n',
      netns,
      'link',
      'add',
      dev,
      'type',
      'veth',
      'peer',
      'name',
      peer,
    ]);
  }
}
