import { createHash } from 'node:crypto';
import type { NetworkMode } from '../api/index.js';
import { invalidArgument, unavailable } from '../errors.js';
import type {
  NetworkAttachRequest,
  NetworkAttachment,
  NetworkVMRef,
  VMNetwork,
} from './vm-network.js';

export interface MemoryVMNetworkOptions {
  /** The network's IPv4 subnet; its first address is the gateway, as with CNI's host-local. */
  subnet?: string;
}

/** An IPv4 subnet's gateway and the addresses it hands out, as host-local allocates them. */
export function subnetHosts(subnet: string): { gateway: string; hosts: string[]; prefix: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(subnet);
  const octets = m?.slice(1, 5).map(Number) ?? [];
  const prefix = Number(m?.[5]);
  if (octets.length !== 4 || octets.some((o) => o > 255) || !(prefix >= 16 && prefix <= 30))
    throw invalidArgument(`subnet "${subnet}": expected an IPv4 subnet from /16 to /30`);
  const size = 2 ** (32 - prefix);
  const base = octets.reduce((a, o) => a * 256 + o, 0);
  const network = base - (base % size);
  const ip = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
  // host-local: the network, its gateway (first host) and its broadcast are never handed out.
  const hosts = Array.from({ length: size - 3 }, (_, i) => ip(network + 2 + i));
  return { gateway: ip(network + 1), hosts, prefix };
}

interface Attached {
  name: string;
  ip: string;
  netns: string;
  attachment: NetworkAttachment;
}

/**
 * VMNetwork in memory, for tests of the use cases: addresses from a small subnet, reservations
 * and attachments in maps, with the CNI network's idempotency and errors. A namespace is a name
 * in a set; `vanish` deletes one as a host reboot would, for `sweep` to find. One process only.
 */
export class MemoryVMNetwork implements VMNetwork {
  private readonly gateway: string;
  private readonly hosts: string[];
  private readonly prefix: number;
  private readonly reserved = new Map<string, string>();
  private readonly attached = new Map<string, Attached>();
  private readonly namespaces = new Set<string>();
  private readonly granted = new Map<string, number>();

  constructor(options: MemoryVMNetworkOptions = {}) {
    ({
      gateway: this.gateway,
      hosts: this.hosts,
      prefix: this.prefix,
    } = subnetHosts(options.subnet ?? '10.88.0.0/29'));
  }

  async reserve(req: NetworkVMRef & { mode: NetworkMode }): Promise<string | undefined> {
    if (req.mode === 'none') return undefined;
    await this.sweep();
    const attached = this.attached.get(req.uid);
    if (attached !== undefined && this.namespaces.has(attached.netns)) return attached.ip;
    const ip = this.reserved.get(req.uid) ?? this.allocate(req.name);
    this.reserved.set(req.uid, ip);
    return ip;
  }

  async attach(req: NetworkAttachRequest): Promise<NetworkAttachment> {
    if (req.mode === 'none') return { ipAddresses: [] };
    await this.detach(req);
    await this.sweep();
    const ip = this.reserved.get(req.uid) ?? this.allocate(req.name);
    this.reserved.delete(req.uid);
    const netns = `ignite-${req.uid}`;
    const attachment = {
      netns,
      tapName: 'tap0',
      mac: macOf(req.uid),
      nics: [{ tapName: 'tap0', mac: macOf(req.uid) }],
      ipAddresses: [ip],
      gateway: this.gateway,
      prefixLength: this.prefix,
    };
    if (req.guestAddress === undefined)
      await Promise.resolve(req.onLinksReady?.({ netns, nics: attachment.nics })).catch(
        () => undefined,
      );
    this.attached.set(req.uid, { name: req.name, ip, netns, attachment });
    this.namespaces.add(netns);
    return attachment;
  }

  detach(req: { uid: string; keepAddress?: boolean }): Promise<void> {
    const ip = this.attached.get(req.uid)?.ip;
    if (req.keepAddress === true && ip !== undefined) this.reserved.set(req.uid, ip);
    this.namespaces.delete(`ignite-${req.uid}`);
    this.attached.delete(req.uid);
    this.granted.delete(req.uid);
    return Promise.resolve();
  }

  async release(req: { uid: string }): Promise<void> {
    await this.sweep();
    await this.detach(req);
    this.reserved.delete(req.uid);
  }

  leases(uid: string): Promise<number> {
    return Promise.resolve(this.granted.get(uid) ?? 0);
  }

  async sweep(): Promise<string[]> {
    const swept: string[] = [];
    for (const [uid, a] of this.attached) {
      if (this.namespaces.has(a.netns)) continue;
      await this.detach({ uid });
      swept.push(uid);
    }
    return swept;
  }

  /** What the guest's DHCP request does: the VM's server hands out its lease. Returns the address. */
  grantLease(uid: string): string {
    const a = this.attached.get(uid);
    if (a === undefined) throw invalidArgument(`vm ${uid}: not attached`);
    this.granted.set(uid, (this.granted.get(uid) ?? 0) + 1);
    return a.ip;
  }

  /** What a host reboot does to an attached VM: its namespace is gone, nothing is torn down. */
  vanish(uid: string): void {
    this.namespaces.delete(`ignite-${uid}`);
  }

  /** What the network holds for the VM: its address, reserved or attached, and its namespace. */
  held(uid: string): string[] {
    const a = this.attached.get(uid);
    return [
      ...(this.reserved.has(uid) ? [`reserved ${this.reserved.get(uid)}`] : []),
      ...(a ? [`attached ${a.ip}`] : []),
      ...(this.namespaces.has(`ignite-${uid}`) ? ['netns'] : []),
    ];
  }

  private allocate(name: string): string {
    const used = new Set([
      ...this.reserved.values(),
      ...[...this.attached.values()].map((a) => a.ip),
    ]);
    const ip = this.hosts.find((h) => !used.has(h));
    if (ip === undefined)
      throw unavailable(`vm "${name}": network "memory" has no free address left`);
    return ip;
  }
}

/** A locally administered unicast MAC, the same for the same VM. */
function macOf(uid: string): string {
  const b = createHash('sha256').update(uid).digest().subarray(0, 6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
