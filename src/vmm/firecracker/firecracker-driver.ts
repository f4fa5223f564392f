import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, failedPrecondition, invalidArgument } from '../../errors.js';
import { findProgram, runUnchecked } from '../../system/exec.js';
import type { Logger } from '../../system/logger.js';
import { sleep } from '../../system/linux-processes.js';
import {
  exitedDuringBoot,
  killNow,
  spawnHypervisor,
  type HypervisorProcess,
} from '../hypervisor-process.js';
import {
  bindingFor,
  checkBinding,
  checkDigest,
  digestFile,
  readSavedState,
  type StateSidecar,
} from '../saved-state.js';
import { cmdlineWords, hasCmdlineKey, withoutIPAutoconfig } from '../kernel-cmdline.js';
import { checkVMConfig, vmLabel } from '../vm-config-check.js';
import type {
  Availability,
  Capability,
  RunningVM,
  VMConfig,
  VMMCapabilities,
  VMMDriver,
  VMStartOptions,
} from '../vmm-driver.js';
import { relayHypervisorConsole, type ConsoleRelay } from '../console-relay.js';
import {
  apiForVersion,
  FirecrackerClient,
  unixSocketTransport,
  type FirecrackerApi,
} from './firecracker-client.js';
import {
  firecrackerBindingFacts,
  FirecrackerVM,
  MEMORY_SUFFIX,
  snapshotsUnsupported,
} from './firecracker-vm.js';

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

  async capabilities(): Promise<VMMCapabilities> {
    const availability = await this.availability();
    const why = !availability.available
      ? (availability.reason ?? 'firecracker is not available')
      : snapshotsUnsupported((await this.hypervisor()).api);
    return {
      saveState: why === undefined ? { available: true } : { available: false, reason: why },
      freezeRootDisk: {
        available: false,
        reason: 'firecracker takes raw root disks, which cannot be frozen without a copy',
      },
    };
  }

  /** Firecracker enters an ELF vmlinux by its PVH note or, without one, by its 64-bit entry. */
  bootsKernel(): Promise<Capability> {
    return Promise.resolve({ available: true });
  }

  async start(config: VMConfig, options: VMStartOptions = {}): Promise<RunningVM> {
    const label = vmLabel(config);
    if ((config.shares ?? []).length > 0)
      throw invalidArgument(`${label}: firecracker has no shared-directory device`);
    if (config.rootDisk.format !== 'raw') {
      throw invalidArgument(
        `${label}: firecracker needs a raw root disk, not ${config.rootDisk.format}`,
      );
    }
    if (config.userNIC !== undefined) {
      throw invalidArgument(
        `${label}: firecracker has no user-mode networking (--net user): it joins taps only`,
        { hint: 'create the VM with --vmm qemu, or as root with another --net mode' },
      );
    }
    await checkVMConfig(config);
    const hypervisor = await this.hypervisor();
    const restore = options.restoreFrom;
    const saved =
      restore === undefined ? undefined : await this.checkSaved(restore, config, hypervisor);
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
      const client = new FirecrackerClient(
        unixSocketTransport(p.controlSocket),
        hypervisor.api,
        label,
      );
      await this.waitForApi(proc, client, label);
      await client.putLogger({ logPath, metricsPath });
      if (restore === undefined || saved === undefined) await boot(client, config);
      else await resumeSaved(client, config, restore);
      return new FirecrackerVM(proc, client, relay, metricsPath, config, this.options, hypervisor);
    } catch (err) {
      await killNow(proc);
      await relay?.close();
      throw err;
    }
  }

  /** The sidecar, the binding and every part's SHA-256, before Firecracker starts. */
  private async checkSaved(
    file: string,
    config: VMConfig,
    hypervisor: { api: FirecrackerApi; version: string },
  ): Promise<StateSidecar> {
    const label = vmLabel(config);
    const why = snapshotsUnsupported(hypervisor.api);
    if (why !== undefined) throw failedPrecondition(`${label}: cannot restore ${file}: ${why}`);
    const saved = await readSavedState(file, label);
    checkBinding(
      saved.binding,
      await bindingFor(config, firecrackerBindingFacts(hypervisor.version)),
      label,
      file,
    );
    // Firecracker maps the memory file as it is: damage must be found before it runs.
    for (const part of saved.parts) {
      checkDigest(part, await digestFile(`${file}${part.suffix}`), file, label);
    }
    return saved;
  }

  private async hypervisor(): Promise<{ api: FirecrackerApi; version: string }> {
    const r = await runUnchecked(this.binary, ['--version'], { timeoutMs: 10_000 });
    const { api, version } = apiForVersion(r.stdout);
    this.options.logger?.debug({ version, api }, 'firecracker API');
    return { api, version: version ?? 'unknown' };
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

/** Configures the machine from scratch and boots it. */
async function boot(client: FirecrackerClient, config: VMConfig): Promise<void> {
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
  for (const [i, disk] of (config.disks ?? []).entries()) {
    await client.putDrive(`disk${i}`, {
      pathOnHost: disk.path,
      isRootDevice: false,
      isReadOnly: disk.readOnly,
    });
  }
  for (const [i, nic] of config.nics.entries()) {
    await client.putNetworkInterface(`eth${i}`, { hostDevName: nic.tapName, guestMac: nic.mac });
  }
  await client.action('InstanceStart');
}

/**
 * Loads a saved state paused, moves its root drive and NICs to this VM's file and taps (the
 * state names the saved VM's), then resumes it.
 */
async function resumeSaved(
  client: FirecrackerClient,
  config: VMConfig,
  file: string,
): Promise<void> {
  await client.loadSnapshot({
    snapshotPath: file,
    memFilePath: `${file}${MEMORY_SUFFIX}`,
    networkOverrides: config.nics.map((nic, i) => ({
      ifaceId: `eth${i}`,
      hostDevName: nic.tapName,
    })),
  });
  await client.patchDrive('rootfs', config.rootDisk.path);
  await client.patchVm('Resumed');
}

export { blockStatsFromMetrics } from './firecracker-vm.js';
