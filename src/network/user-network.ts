import { createHash } from 'node:crypto';
import { mkdir, readFile, rm, rmdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { PortMapping } from '../api/index.js';
import { toAppError, unavailable } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { ensurePrivateDir } from '../system/private-dir.js';
import { systemProcesses, type ProcessPort } from './exec-port.js';
import { checkUnprivilegedPorts, linuxUserNetHost, type UserNetHost } from './user-ports.js';
import type { NetworkAttachRequest, NetworkAttachment, UserForward } from './vm-network.js';

/**
 * The guest's resolver in `user` mode: QEMU's slirp answers DNS there, and passt is told to
 * forward what is sent there to the host's resolver, so one address serves both backends.
 */
export const USER_NET_DNS = '10.0.2.3';

/** The guest's address under slirp, which hands out only this one. */
const SLIRP_GUEST = '10.0.2.15';

export interface UserNetworkOptions {
  /** The user's runtime dir: each VM's passt socket, pid file and log go in `<dir>/<uid>/`. */
  runtimeDir: string;
  /** Root binds any port: the unprivileged port start is not checked. */
  isRoot: boolean;
  host?: UserNetHost;
  processes?: ProcessPort;
  logger?: Logger;
}

/**
 * `user` networking, which needs no privilege: no namespace, bridge or tap. With passt installed
 * each VM gets its own passt process (started at attach, ended at detach; it also quits by itself
 * once its hypervisor disconnects), which gives the guest its address by DHCP, NATs its TCP, UDP
 * and ICMP through ordinary sockets and forwards host ports. Without passt QEMU's slirp does the
 * same inside the hypervisor. Either way the guest's port 22 is forwarded from a free port on
 * 127.0.0.1, which `exec`, `ssh` and `cp` use, and connections from the guest to its gateway
 * reach the host's loopback.
 */
export class UserNetwork {
  private readonly host: UserNetHost;
  private readonly processes: ProcessPort;

  constructor(private readonly options: UserNetworkOptions) {
    this.host = options.host ?? linuxUserNetHost;
    this.processes = options.processes ?? systemProcesses;
  }

  /** Refuses host ports this user cannot bind; there is no address to reserve. */
  async check(ports: readonly PortMapping[], label: string): Promise<void> {
    if (this.options.isRoot) return;
    checkUnprivilegedPorts(ports, await this.host.unprivilegedPortStart(), label);
  }

  private dir(uid: string): string {
    return join(this.options.runtimeDir, uid);
  }

  async attach(req: NetworkAttachRequest): Promise<NetworkAttachment> {
    const label = `vm "${req.name}"`;
    await this.check(req.ports, label);
    await this.detach({ uid: req.uid });
    const sshPort = await this.host.freeLoopbackPort();
    const mac = userMAC(req.uid);
    const forwards: UserForward[] = [
      { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: sshPort, vmPort: 22 },
      ...req.ports.map((p) => ({
        protocol: p.protocol ?? 'tcp',
        hostPort: p.hostPort,
        vmPort: p.vmPort,
      })),
    ];
    const slirp: NetworkAttachment = {
      ipAddresses: [SLIRP_GUEST],
      mac,
      user: { backend: 'slirp', mac, forwards, sshPort },
    };
    const passt = await this.host.passt();
    if (passt === undefined) return slirp;
    // passt can fail where QEMU's slirp still works (once it was seen to end at once, silently):
    // one more try, then slirp, which serves the guest the same way, only more slowly.
    let why = '';
    for (let attempt = 1; attempt <= 2; attempt++) {
      const socket = await this.startPasst(passt, req.uid, forwards).catch((err: unknown) => {
        why = toAppError(err).message;
        return undefined;
      });
      if (socket !== undefined)
        return { ipAddresses: [], mac, user: { backend: 'passt', mac, socket, sshPort } };
      this.options.logger?.warn({ vm: req.name, attempt }, `${label}: passt did not start: ${why}`);
    }
    this.options.logger?.warn({ vm: req.name }, `${label}: using QEMU's user networking instead`);
    return slirp;
  }

  /** Starts the VM's passt and returns its socket once it is there; throws with passt's reason. */
  private async startPasst(
    passt: string,
    uid: string,
    forwards: readonly UserForward[],
  ): Promise<string> {
    // attach has cleared what an earlier run left, and a failed try clears its own below.
    const dir = this.dir(uid);
    if (this.options.isRoot) await mkdir(this.options.runtimeDir, { recursive: true, mode: 0o700 });
    else await ensurePrivateDir(this.options.runtimeDir);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const socket = join(dir, 'passt.sock');
    const args = [
      '--foreground',
      '--one-off',
      '--quiet',
      '--socket',
      socket,
      '--pid',
      join(dir, 'passt.pid'),
      '--dns-forward',
      USER_NET_DNS,
      ...forwards.flatMap((f) => [
        f.protocol === 'tcp' ? '-t' : '-u',
        `${f.hostAddress !== undefined ? `${f.hostAddress}/` : ''}${f.hostPort}:${f.vmPort}`,
      ]),
    ];
    const log = join(dir, 'passt.log');
    let ended: string | undefined;
    const pid = this.processes.start(passt, args, log, (code, signal) => {
      ended = signal !== null ? `killed by ${signal}` : `exit code ${code ?? '?'}`;
    });
    for (let waited = 0; !(await isSocket(socket)); waited += 10) {
      if (waited >= 5000 || ended !== undefined || this.processes.hasEnded(pid, socket)) {
        const said = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').pop();
        const how = ended ?? (waited >= 5000 ? 'no socket after 5 s' : 'gone');
        await this.detach({ uid });
        throw unavailable(`passt ${how}${said ? `: ${said}` : ''}`);
      }
      await this.processes.sleep(10);
    }
    return socket;
  }

  /**
   * Ends the VM's passt, if any, and removes its files. Idempotent. The VM's dir, which its
   * other sockets may share (storage/layout.ts), goes only when this leaves it empty.
   */
  async detach(req: { uid: string }): Promise<void> {
    const dir = this.dir(req.uid);
    const socket = join(dir, 'passt.sock');
    const pidFile = join(dir, 'passt.pid');
    const text = await readFile(pidFile, 'utf8').catch(() => '');
    const pid = Number.parseInt(text.trim(), 10);
    if (Number.isInteger(pid) && pid > 0 && this.processes.isAlive(pid, socket)) {
      this.processes.signal(pid, 'SIGTERM');
      if (!(await this.processes.waitForExit(pid, 2000, socket)))
        this.processes.signal(pid, 'SIGKILL');
    }
    await Promise.all([socket, pidFile, join(dir, 'passt.log')].map((f) => rm(f, { force: true })));
    await rmdir(dir).catch(() => undefined);
    // The runtime dir itself goes with the user's last VM; another VM's files keep it.
    await rmdir(this.options.runtimeDir).catch(() => undefined);
  }
}

async function isSocket(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isSocket(),
    () => false,
  );
}

/** A locally administered unicast MAC derived from the VM's UID: the same on every start. */
export function userMAC(uid: string): string {
  const b = createHash('sha256').update(uid).digest().subarray(0, 6);
  b[0] = ((b[0] ?? 0) & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
