import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ExecPort } from '../exec-port.js';

/** Where the host-local IPAM plugin keeps its reservations, one directory per network. */
export const HOST_LOCAL_DIR = '/var/lib/cni/networks';

/**
 * What the CNI plugins keep on the host for one interface of an ignite VM (container ID
 * `ignite-<uid>` for its first, `ignite-<uid>.<n>` for the others).
 */
export interface CNILeftover {
  /** The interface's key: the VM's UID, with `.<n>` for its interface n > 0. */
  uid: string;
  network: string;
  /** Addresses host-local holds for it on an attached interface, or its masquerade rule names. */
  ips: string[];
  /** Host ports its port-mapping rules forward (portmap's DEL needs them to act). */
  ports: { hostPort: number; protocol: 'tcp' | 'udp' }[];
  /** host-local reservations under the create-time placeholder interface only. */
  placeholderOnly: boolean;
}

const ID = /^ignite-([a-z0-9]{16}(?:\.\d+)?)$/;

/** An address host-local holds for an interface of an ignite VM. */
export interface HostLocalHold {
  /** The interface's key (see CNILeftover.uid). */
  key: string;
  network: string;
  ip: string;
  ifName: string;
}

/**
 * What host-local holds for ignite VMs in `networks`: its files are named by the address, and
 * hold the container ID and the interface.
 */
export async function hostLocalHolds(
  networks: readonly string[],
  hostLocalDir = HOST_LOCAL_DIR,
): Promise<HostLocalHold[]> {
  const holds: HostLocalHold[] = [];
  for (const network of networks) {
    const dir = join(hostLocalDir, network);
    for (const file of await readdir(dir).catch(() => [] as string[])) {
      if (!/^[0-9a-f.:]+$/i.test(file)) continue;
      const [id = '', ifName = ''] = (await readFile(join(dir, file), 'utf8').catch(() => ''))
        .trim()
        .split(/\r?\n/);
      const key = ID.exec(id.trim())?.[1];
      if (key !== undefined) holds.push({ key, network, ip: file, ifName: ifName.trim() });
    }
  }
  return holds;
}

/**
 * The ignite container IDs that the bridge, portmap and host-local plugins hold state for: the
 * host-local files of `networks` (an address as the name; the container ID and interface inside)
 * and the nat table's rules, whose comments carry `name: "<network>" id: "<container ID>"`.
 */
export async function findCNILeftovers(
  networks: readonly string[],
  placeholderIf: string,
  exec: ExecPort,
  hostLocalDir = HOST_LOCAL_DIR,
): Promise<CNILeftover[]> {
  const found = new Map<string, CNILeftover>();
  const entry = (uid: string, network: string): CNILeftover => {
    const key = `${network}/${uid}`;
    let e = found.get(key);
    if (!e) found.set(key, (e = { uid, network, ips: [], ports: [], placeholderOnly: true }));
    return e;
  };
  for (const h of await hostLocalHolds(networks, hostLocalDir)) {
    const e = entry(h.key, h.network);
    if (h.ifName !== placeholderIf) {
      e.placeholderOnly = false;
      e.ips.push(h.ip);
    }
  }
  const nat = await exec.runUnchecked('iptables', ['-w', '-t', 'nat', '-S']);
  for (const line of nat.stdout.split('\n')) {
    const m = /name: \\"([^"\\]+)\\" id: \\"ignite-([a-z0-9]{16}(?:\.\d+)?)\\"/.exec(line);
    if (!m?.[1] || !m[2] || !networks.includes(m[1])) continue;
    const e = entry(m[2], m[1]);
    e.placeholderOnly = false;
    const source = /^-A POSTROUTING -s ([0-9.]+)(?:\/32)? /.exec(line)?.[1];
    if (source !== undefined && !e.ips.includes(source)) e.ips.push(source);
    const dnat = /^-A CNI-HOSTPORT-DNAT -p (tcp|udp) .* --dports ([0-9,]+)/.exec(line);
    for (const port of dnat?.[2]?.split(',') ?? [])
      e.ports.push({ hostPort: Number(port), protocol: dnat?.[1] === 'udp' ? 'udp' : 'tcp' });
  }
  return [...found.values()];
}
