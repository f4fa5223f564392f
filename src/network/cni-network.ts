import { spawn } from 'node:child_process';
import lockfile from 'proper-lockfile';
import { closeSync, existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NetworkMode, PortMapping } from '../api/index.js';
import { failedPrecondition, toAppError, type AppError } from '../errors.js';
import { run, runUnchecked } from '../system/exec.js';
import type { Logger } from '../system/logger.js';
import { isProcessAlive, signalProcess, sleep, waitForExit } from '../system/linux-processes.js';
import {
  CNIRunner,
  DEFAULT_CNI_CONF_DIR,
  loadNetworkConfig,
  type CNIRuntime,
  type NetworkConfigList,
} from './cni/cni-runner.js';
import { repairZeroMacBridges } from './cni/bridge-repair.js';
import { sweepLeftovers } from './leftover-sweep.js';
import type { NetworkState, Reservation } from './network-state.js';
import { DEFAULT_NETWORK, installDefaultNetwork } from './default-network.js';
import { linkInfo, plumbTap } from './netns-plumbing.js';
import type { NetworkAttachRequest, NetworkAttachment, VMNetwork } from './vm-network.js';

export type { NetworkAttachment } from './vm-network.js';

/**
 * Per-VM networking, as ignite-spawn uses it. For `cni` and `docker-bridge` a VM gets:
 * - a network namespace `ignite-<uid>`, joined to a CNI network (its `eth0`);
 * - a tap `tap0` in it, joined to `eth0` both ways with tc mirred redirects, so the guest uses
 *   eth0's MAC and takes over its address. tc-redirect rather than an in-namespace bridge: nothing
 *   in the namespace has to learn addresses, and the CNI bridge, its ARP and portmap's DNAT reach
 *   the guest as they would reach a container;
 * - a DHCP server (busybox udhcpd) in the namespace that answers the guest's MAC with exactly
 *   that address, the gateway, DNS and its hostname. DHCP from the guest is the one thing not
 *   redirected (a u32 match on UDP port 67 ahead of the redirect); udhcpd needs an address of its
 *   own, so tap0 gets a link-local one, which the guest never routes to.
 * What DEL needs later is kept in `<dataDir>/network/<uid>.json`, outside the VM's directory, so
 * leftovers can be collected even after the VM was removed. `none` gives no network at all.
 */
export interface NetworkSetupRequest {
  uid: string;
  name: string;
  mode: NetworkMode;
  ports: PortMapping[];
  vmDir: string;
}

export interface CNINetworkOptions {
  dataDir: string;
  confDir?: string;
  pluginPaths?: string[];
  logger?: Logger;
  /** Resolvers handed to guests (the host's, minus loopback stubs). */
  nameservers?: () => Promise<string[]>;
}

const TAP = 'tap0';
/** The interface name a reserved address is held under while the VM has no namespace. */
const RESERVE_IF = 'reserve0';
const DHCP_SERVER_IP = '169.254.255.1';

export class CNINetwork implements VMNetwork {
  private readonly cni: CNIRunner;

  constructor(private readonly options: CNINetworkOptions) {
    this.cni = new CNIRunner(options.pluginPaths);
  }

  private stateFile(uid: string): string {
    return join(this.options.dataDir, 'network', `${uid}.json`);
  }

  static netnsName(uid: string): string {
    return `ignite-${uid}`;
  }

  private reservationFile(uid: string): string {
    return join(this.options.dataDir, 'network', `${uid}.reservation.json`);
  }

  private async readReservation(uid: string): Promise<Reservation | undefined> {
    try {
      return JSON.parse(await readFile(this.reservationFile(uid), 'utf8')) as Reservation;
    } catch {
      return undefined;
    }
  }

  /** IPAM moves (reserve, hand over to the VM's interface, take back) happen one at a time. */
  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const dir = join(this.options.dataDir, 'network');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const release = await lockfile.lock(dir, {
      realpath: false,
      lockfilePath: join(dir, '.lock'),
      stale: 10_000,
      update: 2000,
      retries: { retries: 200, factor: 1.2, minTimeout: 10, maxTimeout: 200 },
    });
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }

  private reservationRuntime(uid: string, ip?: string): CNIRuntime {
    return {
      containerId: `ignite-${uid}`,
      netns: '/proc/self/ns/net',
      ifName: RESERVE_IF,
      ...(ip !== undefined ? { args: `IgnoreUnknown=1;IP=${ip}` } : {}),
    };
  }

  /**
   * Reserves the VM's address when it is created: the network's IPAM allocates it under the VM's
   * container ID and a placeholder interface, so concurrent creates get distinct addresses. The
   * first start hands it to eth0; from then on it is released at stop, as a container's is.
   */
  async reserve(req: {
    uid: string;
    name: string;
    mode: NetworkMode;
  }): Promise<string | undefined> {
    if (req.mode === 'none') return undefined;
    const label = `vm "${req.name}"`;
    const list = await this.networkFor(req.mode);
    await this.sweepQuietly();
    return this.locked(async () => {
      const existing = await this.readReservation(req.uid);
      if (existing) return existing.ip;
      const result = await this.cni.ipam('ADD', list, this.reservationRuntime(req.uid), label);
      const ip = result?.ips?.find((i) => !i.address.includes(':'))?.address.split('/')[0];
      if (ip === undefined)
        throw failedPrecondition(`${label}: network "${list.name}" gave no IPv4 address`);
      await writeFile(
        this.reservationFile(req.uid),
        JSON.stringify({ ip, list } satisfies Reservation),
      );
      return ip;
    });
  }

  /** Gives the reserved address back to the network (on rm). Idempotent. */
  async release(req: { uid: string }): Promise<void> {
    await this.sweepQuietly();
    await this.teardown(req, { keepReservation: false });
  }

  async setup(req: NetworkSetupRequest): Promise<NetworkAttachment> {
    if (req.mode === 'none') return { ipAddresses: [] };
    const label = `vm "${req.name}"`;
    const list = await this.networkFor(req.mode);
    const netns = CNINetwork.netnsName(req.uid);
    // A leftover of an earlier run of this VM (crash) goes first, and any other VM's.
    await this.teardown({ uid: req.uid });
    // Other VMs' leftovers are swept alongside: the sweep never touches a VM whose namespace
    // exists, and this one's is made before anything of it is added.
    const sweeping = this.sweepQuietly();
    const runtime: CNIRuntime = {
      containerId: `ignite-${req.uid}`,
      netns: `/run/netns/${netns}`,
      ifName: 'eth0',
      portMappings: req.ports.map((p) => ({
        hostPort: p.hostPort,
        containerPort: p.vmPort,
        protocol: p.protocol ?? 'tcp',
      })),
    };
    const reservation = await this.readReservation(req.uid);
    const state: NetworkState = { uid: req.uid, netns, list: reservation?.list ?? list, runtime };
    await mkdir(join(this.options.dataDir, 'network'), { recursive: true, mode: 0o700 });
    await this.save(state);
    try {
      await run('ip', ['netns', 'add', netns]);
      state.result = await this.locked(async () => {
        await repairZeroMacBridges(state.list, this.options.logger);
        if (reservation === undefined) return this.cni.add(state.list, runtime, label);
        // Hand the reserved address from the placeholder to eth0.
        await this.cni.ipam('DEL', state.list, this.reservationRuntime(req.uid), label);
        runtime.args = `IgnoreUnknown=1;IP=${reservation.ip}`;
        const result = await this.cni.add(state.list, runtime, label);
        // The address now belongs to eth0 and is released with it at stop, like a container's.
        await rm(this.reservationFile(req.uid), { force: true });
        return result;
      });
      await this.save(state);

      const ip4 = state.result.ips?.find((i) => !i.address.includes(':'));
      if (ip4 === undefined)
        throw failedPrecondition(`${label}: network "${list.name}" gave no IPv4 address`);
      const [address = '', prefix = '32'] = ip4.address.split('/');
      const gateway = ip4.gateway ?? state.result.routes?.find((r) => r.dst === '0.0.0.0/0')?.gw;
      const { mac, mtu } = await linkInfo(netns, 'eth0');
      await plumbTap(netns, { uplink: 'eth0', tap: TAP, mtu, serverIP: DHCP_SERVER_IP });

      state.dhcpPid = await this.startDHCP(req, netns, {
        address,
        prefix: Number(prefix),
        gateway,
        mac,
      });
      await this.save(state);
      await sweeping;
      return {
        netns,
        tapName: TAP,
        mac,
        ipAddresses: [address],
        ...(gateway ? { gateway } : {}),
        prefixLength: Number(prefix),
      };
    } catch (err) {
      await sweeping;
      await this.teardown({ uid: req.uid }).catch(() => undefined);
      throw err;
    }
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

  private async startDHCP(
    req: NetworkSetupRequest,
    netns: string,
    lease: { address: string; prefix: number; gateway: string | undefined; mac: string },
  ): Promise<number> {
    const dir = join(this.options.dataDir, 'network');
    const conf = join(dir, `${req.uid}.udhcpd.conf`);
    const leases = join(dir, `${req.uid}.leases`);
    const log = join(dir, `${req.uid}.dhcp.log`);
    const dns = (await this.options.nameservers?.()) ?? [];
    await writeFile(leases, '');
    await writeFile(
      conf,
      [
        `interface ${TAP}`,
        `start ${lease.address}`,
        `end ${lease.address}`,
        'max_leases 1',
        `lease_file ${leases}`,
        `static_lease ${lease.mac} ${lease.address}`,
        `opt subnet ${prefixToMask(lease.prefix)}`,
        ...(lease.gateway ? [`opt router ${lease.gateway}`] : []),
        ...(dns.length ? [`opt dns ${dns.join(' ')}`] : []),
        `opt hostname ${req.name}`,
        'opt lease 315360000',
        '',
      ].join('\n'),
    );
    const fd = openSync(log, 'a');
    try {
      const child = spawn('ip', ['netns', 'exec', netns, 'busybox', 'udhcpd', '-f', conf], {
        stdio: ['ignore', fd, fd],
        detached: true,
      });
      child.on('error', () => undefined);
      child.unref();
      if (child.pid === undefined)
        throw failedPrecondition(`vm "${req.name}": cannot start the DHCP server`);
      await sleep(50);
      if (!isProcessAlive(child.pid))
        throw failedPrecondition(
          `vm "${req.name}": the DHCP server exited: ${(await readFile(log, 'utf8')).trim().split('\n').pop() ?? ''}`,
        );
      return child.pid;
    } finally {
      closeSync(fd);
    }
  }

  /** How many leases the VM's DHCP server has handed out (for metrics). */
  async dhcpLeases(uid: string): Promise<number> {
    const log = await readFile(
      join(this.options.dataDir, 'network', `${uid}.dhcp.log`),
      'utf8',
    ).catch(() => '');
    return (log.match(/sending ACK/g) ?? []).length;
  }

  /** Undoes setup: DHCP server, CNI DEL (releasing the address), the namespace. Idempotent. */
  async teardown(req: { uid: string }, options: { keepReservation?: boolean } = {}): Promise<void> {
    const file = this.stateFile(req.uid);
    let state: NetworkState | undefined;
    try {
      state = JSON.parse(await readFile(file, 'utf8')) as NetworkState;
    } catch {
      state = undefined;
    }
    const netns = CNINetwork.netnsName(req.uid);
    const errors: AppError[] = [];
    if (state?.dhcpPid !== undefined && isProcessAlive(state.dhcpPid, `${req.uid}.udhcpd.conf`)) {
      signalProcess(state.dhcpPid, 'SIGTERM');
      if (!(await waitForExit(state.dhcpPid, 2000))) signalProcess(state.dhcpPid, 'SIGKILL');
    }
    if (state) {
      // The bridge plugin finds what to un-masquerade from eth0's address, which the guest took
      // over at setup: give it back first, or the NAT rules of this VM would stay behind.
      const ip4 = state.result?.ips?.find((i) => !i.address.includes(':'));
      if (ip4) await runUnchecked('ip', ['-n', netns, 'addr', 'add', ip4.address, 'dev', 'eth0']);
      try {
        await this.cni.del(state.list, state.runtime, state.result, `vm ${req.uid}`);
      } catch (err) {
        errors.push(toAppError(err));
      }
    }
    // Most teardowns (every setup starts with one) find no namespace: no process for that.
    if (existsSync(`/run/netns/${netns}`)) await runUnchecked('ip', ['netns', 'del', netns]);
    const reservation = await this.readReservation(req.uid);
    if (reservation && options.keepReservation === false) {
      // A VM removed before it ever started still holds its address under the placeholder.
      await this.locked(async () => {
        await this.cni.ipam(
          'DEL',
          reservation.list,
          this.reservationRuntime(req.uid),
          `vm ${req.uid}`,
        );
        await rm(this.reservationFile(req.uid), { force: true });
      });
    }
    if (errors.length === 0) {
      const dir = join(this.options.dataDir, 'network');
      for (const suffix of ['.json', '.udhcpd.conf', '.leases', '.dhcp.log'])
        await rm(join(dir, `${req.uid}${suffix}`), { force: true });
    } else {
      this.options.logger?.warn(
        { uid: req.uid, err: errors[0] },
        `network teardown of ${req.uid}: ${errors[0]?.message ?? ''}`,
      );
      throw errors[0] as AppError;
    }
  }

  attach(req: NetworkAttachRequest): Promise<NetworkAttachment> {
    return this.setup({ ...req, ports: [...req.ports], vmDir: '' });
  }

  detach(req: { uid: string }): Promise<void> {
    return this.teardown(req);
  }

  leases(uid: string): Promise<number> {
    return this.dhcpLeases(uid);
  }

  sweep(): Promise<string[]> {
    return this.sweepLeftovers();
  }

  /** See sweepLeftovers in leftover-sweep.ts. Returns the UIDs swept; never throws. */
  sweepLeftovers(): Promise<string[]> {
    return sweepLeftovers({
      confDir: this.options.confDir,
      logger: this.options.logger,
      placeholderIf: RESERVE_IF,
      netnsName: (uid) => CNINetwork.netnsName(uid),
      readState: (uid) =>
        readFile(this.stateFile(uid), 'utf8').then(
          (t) => JSON.parse(t) as NetworkState,
          () => undefined,
        ),
      saveState: async (state) => {
        await mkdir(join(this.options.dataDir, 'network'), { recursive: true, mode: 0o700 });
        await this.save(state);
      },
      teardown: (uid) => this.teardown({ uid }),
    });
  }

  private async sweepQuietly(): Promise<void> {
    await this.sweepLeftovers().catch((err: unknown) =>
      this.options.logger?.warn({ err }, `network: sweep failed: ${toAppError(err).message}`),
    );
  }

  private async save(state: NetworkState): Promise<void> {
    const file = this.stateFile(state.uid);
    await writeFile(`${file}.tmp`, JSON.stringify(state));
    await rename(`${file}.tmp`, file);
  }
}

export function prefixToMask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 0xff).join('.');
}
