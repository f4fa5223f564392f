import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, internal, invalidArgument } from '../../errors.js';
import { findProgram, runUnchecked } from '../../system/exec.js';
import type { Logger } from '../../system/logger.js';
import { sleep } from '../../system/process.js';
import {
  exitedDuringBoot,
  exitsWithin,
  killNow,
  spawnHypervisor,
  type HypervisorProcess,
} from '../hypervisor-process.js';
import { cmdlineWords, hasCmdlineKey, withoutIPAutoconfig } from '../kernel-cmdline.js';
import { checkVMConfig, vmLabel } from '../vm-config-check.js';
import type { Availability, BlockStats, RunningVM, VMConfig, VMMDriver } from '../vmm-driver.js';
import { relayHypervisorConsole, type ConsoleRelay } from '../console-relay.js';
import {
  apiForVersion,
  FirecrackerClient,
  unixSocketTransport,
  type FirecrackerApi,
} from './firecracker-client.js';

export interface FirecrackerDriverOptions {
  /** Default `firecracker` on PATH. */
  binary?: string;
  /** How long Firecracker may take to serve its API socket. */
  startTimeoutMs?: number;
  /** How long kill() waits after SIGTERM before SIGKILL. */
  killGraceMs?: number;
  logger?: Logger;
}

/**
 * Firecracker's `boot_args`: the spec's command line with a serial console unless it names one,
 * and without `ip=` when the VM has no NIC. Firecracker itself appends `root=/dev/vda rw` for the
 * root drive.
 */
export function firecrackerBootArgs(cmdline: string, nics: number): string {
  const words = withoutIPAutoconfig(cmdlineWords(cmdline), nics);
  if (!hasCmdlineKey(words, 'console')) words.push('console=ttyS0');
  return words.join(' ');
}

/** The names of the driver's files in `paths.workDir`. */
export const FIRECRACKER_FILES = {
  log: 'firecracker.log',
  metrics: 'firecracker-metrics.json',
} as const;

/**
 * Firecracker, where its binary is installed (never on the project's machines: their KVM cannot
 * boot stock guests). It speaks the API generation of the binary's `--version` (v0.x as Ignite
 * v0.4 used, or v1.x), drives one root disk that must be raw, and relays the serial console
 * (its stdio) to `consoleLog` and `consoleSocket` itself. shutdown() is SendCtrlAltDel: the
 * guest reboots and Firecracker exits, as in Ignite. Block stats come from the metrics file,
 * flushed on demand.
 */
export class FirecrackerDriver implements VMMDriver {
  readonly name = 'firecracker' as const;
  private readonly binary: string;

  constructor(private readonly options: FirecrackerDriverOptions = {}) {
    this.binary = options.binary ?? 'firecracker';
  }

  async availability(): Promise<Availability> {
    // Every `ignite create` asks; where Firecracker is not installed (most hosts) the answer
    // must not cost a process start.
    if (findProgram(this.binary) === undefined)
      return { available: false, reason: `${this.binary}: not installed (not on PATH)` };
    try {
      const r = await runUnchecked(this.binary, ['--version'], { timeoutMs: 10_000 });
      if (r.exitCode !== 0) {
        return { available: false, reason: `${this.binary} --version: exit ${r.exitCode}` };
      }
      const { version } = apiForVersion(r.stdout);
      return version === undefined ? { available: true } : { available: true, version };
    } catch (err) {
      return { available: false, reason: err instanceof AppError ? err.message : String(err) };
    }
  }

  async start(config: VMConfig): Promise<RunningVM> {
    const label = vmLabel(config);
    if (config.rootDisk.format !== 'raw') {
      throw invalidArgument(
        `${label}: firecracker needs a raw root disk, not ${config.rootDisk.format}`,
      );
    }
    await checkVMConfig(config);
    const api = await this.api();
    const p = config.paths;
    const logPath = join(p.workDir, FIRECRACKER_FILES.log);
    const metricsPath = join(p.workDir, FIRECRACKER_FILES.metrics);
    await mkdir(p.workDir, { recursive: true });
    // Firecracker opens these without O_CREAT, and refuses an API socket path that exists.
    await writeFile(logPath, '', { flag: 'a' });
    await writeFile(metricsPath, '');
    await rm(p.controlSocket, { force: true });

    const proc = await spawnHypervisor(this.binary, ['--api-sock', p.controlSocket], {
      label,
      stdio: 'console',
      ...(config.netns !== undefined ? { netns: config.netns } : {}),
    });
    let relay: ConsoleRelay | undefined;
    try {
      relay = await relayHypervisorConsole(proc.child, config, label, this.options.logger);
      const client = new FirecrackerClient(unixSocketTransport(p.controlSocket), api, label);
      await this.waitForApi(proc, client, label);
      await client.putLogger({ logPath, metricsPath });
      await client.putMachineConfig({ vcpuCount: config.vcpus, memSizeMib: config.memoryMiB });
      const bootArgs = firecrackerBootArgs(config.kernel.cmdline, config.nics.length);
      await client.putBootSource({
        kernelImagePath: config.kernel.vmlinuxPath,
        bootArgs,
        ...(config.kernel.initrdPath === undefined ? {} : { initrdPath: config.kernel.initrdPath }),
      });
      await client.putDrive('rootfs', {
        pathOnHost: config.rootDisk.path,
        isRootDevice: true,
        isReadOnly: false,
      });
      for (const [i, nic] of config.nics.entries()) {
        await client.putNetworkInterface(`eth${i}`, {
          hostDevName: nic.tapName,
          guestMac: nic.mac,
        });
      }
      await client.action('InstanceStart');
      return new FirecrackerVM(proc, client, relay, metricsPath, config, this.options);
    } catch (err) {
      await killNow(proc);
      await relay?.close();
      throw err;
    }
  }

  private async api(): Promise<FirecrackerApi> {
    const r = await runUnchecked(this.binary, ['--version'], { timeoutMs: 10_000 });
    const { api, version } = apiForVersion(r.stdout);
    this.options.logger?.debug({ version, api }, 'firecracker API');
    return api;
  }

  private async waitForApi(
    proc: HypervisorProcess,
    client: FirecrackerClient,
    label: string,
  ): Promise<void> {
    const timeoutMs = this.options.startTimeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!proc.running()) throw exitedDuringBoot(proc, label, 'firecracker');
      try {
        await client.describeInstance();
        return;
      } catch (err) {
        if (!AppError.is(err, 'Unavailable')) throw err;
        if (Date.now() > deadline) throw err;
        await sleep(20);
      }
    }
  }
}

class FirecrackerVM implements RunningVM {
  readonly pid: number;
  readonly exited: RunningVM['exited'];
  private readonly label: string;

  constructor(
    private readonly proc: HypervisorProcess,
    private readonly client: FirecrackerClient,
    relay: ConsoleRelay,
    private readonly metricsPath: string,
    config: VMConfig,
    private readonly options: FirecrackerDriverOptions,
  ) {
    this.pid = proc.pid;
    this.label = vmLabel(config);
    // `exited` settles only once the console is flushed, so the log is complete by then.
    this.exited = proc.exited.then(async (info) => {
      await relay.close();
      return info;
    });
  }

  async shutdown(): Promise<void> {
    if (!this.proc.running()) return;
    await this.client.action('SendCtrlAltDel');
  }

  async kill(): Promise<void> {
    if (this.proc.running()) {
      // Firecracker has no quit request; SIGTERM ends it, SIGKILL if that does not.
      this.proc.child.kill('SIGTERM');
      if (!(await exitsWithin(this.proc, this.options.killGraceMs ?? 2000))) {
        await killNow(this.proc);
      }
    }
    await this.exited;
  }

  async blockStats(): Promise<BlockStats> {
    const before = await this.metricsSize();
    await this.client.action('FlushMetrics');
    // FlushMetrics returns once written on v1; v0.x may write just after replying.
    for (let i = 0; i < 50 && (await this.metricsSize()) <= before; i++) await sleep(20);
    return blockStatsFromMetrics(await readFile(this.metricsPath, 'utf8'), this.label);
  }

  private async metricsSize(): Promise<number> {
    const f = await open(this.metricsPath, 'r');
    try {
      return (await f.stat()).size;
    } finally {
      await f.close();
    }
  }
}

/**
 * The root disk's counters from Firecracker's metrics: JSON lines, one per flush, each with a
 * `block` section (all drives; v1 adds `block_<drive_id>` per drive).
 */
export function blockStatsFromMetrics(text: string, label: string): BlockStats {
  const lines = text
    .trim()
    .split('\n')
    .filter((l) => l.trim() !== '');
  for (const line of lines.reverse()) {
    let m: Record<string, Record<string, unknown> | undefined>;
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      continue; // A line being written as we read.
    }
    const b = m.block_rootfs ?? m.block;
    if (b === undefined) continue;
    const n = (k: string) => (typeof b[k] === 'number' ? b[k] : 0);
    return {
      readBytes: n('read_bytes'),
      writeBytes: n('write_bytes'),
      readOps: n('read_count'),
      writeOps: n('write_count'),
    };
  }
  throw internal(`${label}: firecracker wrote no block metrics`);
}
