import { readFile } from 'node:fs/promises';

/** The host ports that host processes serve, as `port/protocol` keys (`8080/tcp`). */
export interface HostPorts {
  inUse(): Promise<ReadonlySet<string>>;
}

/** The host ports in use, read from /proc/net. */
export const procNetHostPorts: HostPorts = { inUse: () => hostPortsInUse() };

/** TCP sockets in LISTEN, UDP sockets bound and unconnected: the states of a server's socket. */
const SERVER_STATE = { tcp: '0A', udp: '07' } as const;

/**
 * The host ports that processes of this network namespace serve, as `port/protocol` keys
 * (`8080/tcp`), on any local address, IPv4 or IPv6. Read from /proc/net/{tcp,tcp6,udp,udp6}:
 * nothing is bound, so nothing is disturbed.
 */
export async function hostPortsInUse(procNet = '/proc/net'): Promise<Set<string>> {
  const used = new Set<string>();
  for (const protocol of ['tcp', 'udp'] as const) {
    for (const file of [protocol, `${protocol}6`]) {
      const text = await readFile(`${procNet}/${file}`, 'utf8').catch(() => '');
      for (const port of serverPorts(text, SERVER_STATE[protocol])) used.add(`${port}/${protocol}`);
    }
  }
  return used;
}

/** The local ports of the sockets in `state` in one /proc/net table. */
export function serverPorts(table: string, state: string): number[] {
  const ports: number[] = [];
  for (const line of table.split('\n').slice(1)) {
    const [, local, , st] = line.trim().split(/\s+/);
    const hex = local?.split(':').pop();
    if (st === state && hex !== undefined && /^[0-9A-F]{4}$/i.test(hex))
      ports.push(parseInt(hex, 16));
  }
  return ports;
}
