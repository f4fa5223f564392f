import { readFile, writeFile } from 'node:fs/promises';
import { failedPrecondition } from '../errors.js';
import { systemProcesses, type ProcessPort } from './exec-port.js';
import type { NetworkFiles } from './network-state.js';

/** The link-local address the DHCP server answers from, on the tap; the guest never routes to it. */
export const DHCP_SERVER_IP = '169.254.255.1';

/** The one lease a VM's DHCP server hands out: its guest's MAC gets exactly this. */
export interface DHCPLease {
  /** The interface the server listens on (the VM's tap). */
  iface: string;
  mac: string;
  address: string;
  prefixLength: number;
  gateway?: string | undefined;
  nameservers: readonly string[];
  /** The guest's hostname (the VM's name); given on its first interface only. */
  hostname?: string | undefined;
}

/** A prefix length as a dotted netmask: 24 → 255.255.255.0. */
export function prefixToMask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
}

const WORD = /^[^\s]+$/;

const DHCP_SERVER_PORT = 67;
/** How often, and how long, a starting server is looked at until it listens. */
const READY_POLL_MS = 2;
const READY_TIMEOUT_MS = 2000;

/**
 * busybox udhcpd's configuration for one lease. The lease lasts ten years: the address belongs
 * to the VM for as long as it is attached, and a guest that renews would only add traffic.
 */
export function udhcpdConfig(lease: DHCPLease, leaseFile: string): string {
  const words = [lease.iface, lease.mac, lease.address, ...lease.nameservers];
  if (lease.hostname !== undefined) words.push(lease.hostname);
  for (const v of words)
    if (!WORD.test(v)) throw failedPrecondition(`network: bad DHCP value ${JSON.stringify(v)}`);
  return [
    `interface ${lease.iface}`,
    `start ${lease.address}`,
    `end ${lease.address}`,
    'max_leases 1',
    `lease_file ${leaseFile}`,
    `static_lease ${lease.mac} ${lease.address}`,
    `opt subnet ${prefixToMask(lease.prefixLength)}`,
    ...(lease.gateway ? [`opt router ${lease.gateway}`] : []),
    ...(lease.nameservers.length ? [`opt dns ${lease.nameservers.join(' ')}`] : []),
    ...(lease.hostname !== undefined ? [`opt hostname ${lease.hostname}`] : []),
    'opt lease 315360000',
    '',
  ].join('\n');
}

/** How many leases a server's log shows it handed out (one ACK each). */
export function countLeases(log: string): number {
  return (log.match(/sending ACK/g) ?? []).length;
}

/**
 * A VM's DHCP server: busybox udhcpd in the VM's namespace, run as
 * `ip netns exec <netns> busybox udhcpd -f <dataDir>/network/<uid>.udhcpd.conf`, with its output
 * in `<uid>.dhcp.log`. A stored PID is signalled only while its command line still names that
 * configuration file, so a PID reused by another process after a crash is left alone.
 */
export class DHCPServer {
  constructor(
    private readonly files: NetworkFiles,
    private readonly processes: ProcessPort = systemProcesses,
  ) {}

  /** What the server's command line contains, and no other process's does. */
  private marker(uid: string): string {
    return `udhcpd -f ${this.files.file(uid, '.udhcpd.conf')}`;
  }

  /**
   * Writes the configuration and starts the server in `netns` (whose path is `netnsPath`);
   * returns its PID once it listens, so the guest's first DISCOVER finds it.
   */
  async start(
    uid: string,
    netns: string,
    netnsPath: string,
    lease: DHCPLease,
    label: string,
  ): Promise<number> {
    const conf = this.files.file(uid, '.udhcpd.conf');
    const leases = this.files.file(uid, '.leases');
    const log = this.files.file(uid, '.dhcp.log');
    await this.files.ensureDir();
    await writeFile(leases, '');
    await writeFile(conf, udhcpdConfig(lease, leases));
    let pid: number;
    try {
      pid = this.processes.start(
        'ip',
        ['netns', 'exec', netns, 'busybox', 'udhcpd', '-f', conf],
        log,
      );
    } catch (err) {
      throw failedPrecondition(`${label}: cannot start the DHCP server`, { cause: err });
    }
    // udhcpd fails at once on a bad interface or address, else binds its socket within a few ms.
    for (let waited = 0; ; waited += READY_POLL_MS) {
      if (this.processes.hasEnded(pid, this.marker(uid))) {
        const last = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').pop() ?? '';
        throw failedPrecondition(`${label}: the DHCP server exited: ${last}`);
      }
      if (await this.processes.listensUDP(pid, DHCP_SERVER_PORT, netnsPath)) return pid;
      if (waited >= READY_TIMEOUT_MS) {
        this.processes.signal(pid, 'SIGKILL');
        throw failedPrecondition(
          `${label}: the DHCP server did not listen within ${READY_TIMEOUT_MS} ms`,
        );
      }
      await this.processes.sleep(READY_POLL_MS);
    }
  }

  /** Whether the server at `pid` runs and is still this VM's. */
  isRunning(uid: string, pid: number): boolean {
    return this.processes.isAlive(pid, this.marker(uid));
  }

  /** Stops the server at `pid` if it is still this VM's: SIGTERM, then SIGKILL after 2 s. */
  async stop(uid: string, pid: number | undefined): Promise<void> {
    const marker = this.marker(uid);
    if (pid === undefined || !this.processes.isAlive(pid, marker)) return;
    this.processes.signal(pid, 'SIGTERM');
    if (!(await this.processes.waitForExit(pid, 2000, marker)))
      this.processes.signal(pid, 'SIGKILL');
  }

  /** How many leases the VM's server handed out; 0 when it has none. */
  async leases(uid: string): Promise<number> {
    return countLeases(await readFile(this.files.file(uid, '.dhcp.log'), 'utf8').catch(() => ''));
  }
}
