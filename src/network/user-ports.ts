import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { PortMapping } from '../api/index.js';
import { permissionDenied } from '../errors.js';
import { findProgram } from '../system/exec.js';

/**
 * What user networking asks of the host, as a port: a test answers for a host with or without
 * passt, with any unprivileged port start.
 */
export interface UserNetHost {
  /** The path of `passt` on PATH, or undefined where it is not installed. */
  passt(): Promise<string | undefined>;
  /** A TCP port free on 127.0.0.1 now, for the guest's SSH. */
  freeLoopbackPort(): Promise<number>;
  /** `net.ipv4.ip_unprivileged_port_start`: the first port an ordinary user may bind. */
  unprivilegedPortStart(): Promise<number>;
}

export const linuxUserNetHost: UserNetHost = {
  passt: () => Promise.resolve(findProgram('passt')),
  freeLoopbackPort,
  unprivilegedPortStart: async () => {
    const text = await readFile('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').catch(
      () => '1024',
    );
    const n = Number.parseInt(text.trim(), 10);
    return Number.isInteger(n) && n >= 0 ? n : 1024;
  },
};

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr !== null
          ? resolve(addr.port)
          : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Refuses host ports an ordinary user cannot bind (below `start`), naming the first such port
 * and the setting: said at create, before anything runs, rather than as a forwarder that fails
 * to bind at start.
 */
export function checkUnprivilegedPorts(
  ports: readonly PortMapping[],
  start: number,
  label: string,
): void {
  const low = ports.find((p) => p.hostPort < start);
  if (low === undefined) return;
  throw permissionDenied(
    `${label}: host port ${low.hostPort}/${low.protocol ?? 'tcp'} is below ${start}, the first port an ordinary user may bind (net.ipv4.ip_unprivileged_port_start)`,
    {
      hint: `forward a host port of ${start} or above, e.g. -p ${start + low.hostPort}:${low.vmPort}`,
    },
  );
}
