import { mkdir, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError, failedPrecondition, internal } from '../../errors.js';
import type { Logger } from '../../system/logger.js';
import type { Tracer } from '../../system/trace.js';
import { connectWhenReady, killNow, spawnHypervisor } from '../hypervisor-process.js';
import { relayHypervisorConsole, type ConsoleRelay } from '../console-relay.js';
import { checkVMConfig, vmLabel } from '../vm-config-check.js';
import {
  bindingWith,
  checkBinding,
  checkDigest,
  digestFile,
  kernelDigestFor,
  readSavedState,
  type StatePart,
  type StateSidecar,
} from '../saved-state.js';
import { pvhBootable } from '../kernel-elf.js';
import type {
  Availability,
  Capability,
  RunningVM,
  VMConfig,
  VMMCapabilities,
  VMMDriver,
  VMStartOptions,
} from '../vmm-driver.js';
import { chooseAccel, readQemuVersion } from './accel-probe.js';
import { detectHostTsc, detectHostTscCached } from './host-tsc.js';
import { nicId, qemuArgs, type Accel } from './qemu-command.js';
import { awaitIncoming, INCOMING_FD_ARGS } from './qemu-migration.js';
import { qemuBindingFacts, QemuVM } from './qemu-vm.js';
import { QMPClient, type QMPGreeting } from './qmp-client.js';

export interface QemuDriverOptions {
  /** Default `qemu-system-x86_64` on PATH. */
  binary?: string;
  /**
   * `kvm` or `tcg` to force one (the CLI maps IGNITE_ACCEL here), or `auto`: KVM only where a
   * probe boot shows it works (accel-probe.ts), cached in `accelCacheFile`.
   */
  accel?: Accel | 'auto';
  /** Where `auto` keeps its verdict, e.g. `<dataDir>/.cache/accel.json`. Required for `auto`. */
  accelCacheFile?: string;
  /** The host TSC rate for TCG guests; detected when absent (host-tsc.ts). */
  tscKHz?: number;
  /** Where the host's TSC rate is remembered between VM starts (see detectHostTscCached). */
  tscCacheFile?: string;
  /** How long QEMU may take to open its QMP socket. */
  startTimeoutMs?: number;
  /** How long kill() lets QMP `quit` work before SIGKILL. */
  killGraceMs?: number;
  logger?: Logger;
  /** Marks QEMU's exec and its QMP answering (IGNITE_TRACE). */
  trace?: Tracer;
}

const DEFAULT_BINARY = 'qemu-system-x86_64';

/**
 * QEMU `microvm`, the driver that works everywhere: KVM where usable, TCG otherwise.
 *
 * Graceful shutdown, measured with Debian's 6.1 kernel under microvm + TCG:
 * - `system_powerdown` raises the GED power button, but Debian builds the ACPI button driver as a
 *   module and only ACPI-aware userspace (systemd-logind, acpid) acts on it: a busybox guest
 *   ignores it. Not used.
 * - Ctrl-Alt-Del works: with `-device i8042` the ACPI DSDT lists a PS/2 controller (PNP0303), the
 *   guest's i8042 driver binds it, QMP `send-key ctrl-alt-delete` reaches the kernel, which
 *   signals init (SIGINT); busybox init runs its `::ctrlaltdel:` action and systemd starts
 *   ctrl-alt-del.target. The guest then reboots (or powers off: ACPI S5) and `-no-reboot` makes
 *   QEMU exit. This is what Firecracker's SendCtrlAltDel does, so both drivers agree. Without the
 *   i8042 the keys go nowhere; with `acpi=off` the i8042 would bind without PNP, but the Debian
 *   kernel then cannot find its virtio-mmio disk.
 */
export class QemuDriver implements VMMDriver {
  readonly name = 'qemu' as const;
  readonly holdsLinks = true;
  private readonly binary: string;

  constructor(private readonly options: QemuDriverOptions = {}) {
    this.binary = options.binary ?? DEFAULT_BINARY;
  }

  async availability(): Promise<Availability> {
    try {
      const version = await readQemuVersion(this.binary);
      const m = /version (\S+)/.exec(version);
      return { available: true, version: m?.[1] ?? version };
    } catch (err) {
      const reason = err instanceof AppError ? err.message : String(err);
      return { available: false, reason };
    }
  }

  async capabilities(): Promise<VMMCapabilities> {
    const availability = await this.availability();
    const can = availability.available
      ? { available: true as const }
      : { available: false as const, reason: availability.reason ?? 'qemu is not available' };
    return { saveState: can, freezeRootDisk: can };
  }

  bootsKernel(vmlinuxPath: string): Promise<Capability> {
    return pvhBootable(vmlinuxPath);
  }

  async start(config: VMConfig, options: VMStartOptions = {}): Promise<RunningVM> {
    const label = vmLabel(config);
    await checkVMConfig(config);
    const boots = await this.bootsKernel(config.kernel.vmlinuxPath);
    if (!boots.available)
      throw failedPrecondition(`${label}: kernel ${config.kernel.vmlinuxPath}: ${boots.reason}`);
    const accel = await this.accel(config);
    const restore = options.restoreFrom;
    // Checked before QEMU starts: everything but QEMU's version, which its greeting tells.
    const saved = restore === undefined ? undefined : await this.checkSaved(restore, config, accel);
    const tscKHz =
      accel === 'tcg'
        ? (this.options.tscKHz ??
          (this.options.tscCacheFile !== undefined
            ? await detectHostTscCached(this.options.tscCacheFile)
            : await detectHostTsc()
          ).kHz)
        : undefined;
    const args = qemuArgs(config, tscKHz === undefined ? { accel } : { accel, tscKHz });
    // QEMU loads the state from the file itself, open as its fd 3, as soon as it starts; the
    // file is hashed meanwhile, and the guest runs only once both are done and agree.
    const state = restore === undefined ? undefined : await open(restore, 'r');
    if (state !== undefined) args.push(...INCOMING_FD_ARGS);
    // Held links are pulled before the guest's first instruction: it starts paused (-S) meanwhile.
    const holdLinks = config.linksHeld === true && config.nics.length > 0 && state === undefined;
    if (holdLinks) args.push('-S');
    const digest = restore === undefined ? undefined : digestFile(restore);
    digest?.catch(() => undefined);

    const p = config.paths;
    await mkdir(dirname(p.consoleLog), { recursive: true });
    await Promise.all([p.consoleSocket, p.controlSocket].map((s) => rm(s, { force: true })));
    this.options.logger?.debug({ vm: config.name, accel, args }, 'starting qemu');
    this.options.trace?.mark('qemu exec');
    const proc = await spawnHypervisor(this.binary, args, {
      label,
      stdio: 'console',
      ...(config.netns !== undefined ? { netns: config.netns } : {}),
      ...(state !== undefined ? { extraFds: [state.fd] } : {}),
    }).finally(() => state?.close());
    let relay: ConsoleRelay | undefined;
    try {
      relay = await relayHypervisorConsole(proc.child, config, label, this.options.logger);
      const socket = await connectWhenReady(proc, p.controlSocket, {
        label,
        what: 'qemu',
        timeoutMs: this.options.startTimeoutMs ?? 10_000,
      });
      this.options.trace?.mark('qmp socket');
      const { client, greeting } = await QMPClient.open(socket, label);
      this.options.trace?.mark('qmp connected');
      const qemuVersion = versionOf(greeting);
      if (restore !== undefined && saved !== undefined && digest !== undefined) {
        checkBinding(saved.sidecar.binding, { hypervisorVersion: qemuVersion }, label, restore);
        await awaitIncoming(client, restore, saved.stream, digest, { label });
        await client.cont();
      }
      if (holdLinks) {
        for (const i of config.nics.keys()) await client.setLink(nicId(i), false);
        await client.cont();
        this.options.trace?.mark('qemu cont');
      }
      const status = await client.queryStatus();
      if (!status.running) throw internal(`${label}: qemu is ${status.status}, not running`);
      return new QemuVM(proc, client, config, this.options, { accel, qemuVersion });
    } catch (err) {
      await killNow(proc);
      await relay?.close();
      // QEMU ends as soon as it cannot load a state: when the file is damaged, that is the news.
      const hashed = await digest?.catch(() => undefined);
      if (hashed !== undefined && saved !== undefined && restore !== undefined)
        checkDigest(saved.stream, hashed, restore, label);
      const said = proc.outputTail();
      if (!(err instanceof AppError) || said === '' || err.message.includes(said)) throw err;
      // The process may have died mid-handshake: its own words beat "connection closed".
      throw new AppError(err.code, `${err.message}: qemu said: ${said}`, {
        cause: err,
      });
    }
  }

  /** The sidecar and its one part, QEMU's migration stream, checked against the config. */
  private async checkSaved(
    file: string,
    config: VMConfig,
    accel: Accel,
  ): Promise<{ sidecar: StateSidecar; stream: StatePart }> {
    const label = vmLabel(config);
    const saved = await readSavedState(file, label);
    const stream = saved.parts.find((p) => p.suffix === '');
    if (stream === undefined || saved.parts.length !== 1) {
      throw failedPrecondition(`${label}: saved state ${file}: not a state QEMU wrote`);
    }
    // QEMU's own version is checked once its greeting tells it.
    const expected = bindingWith(
      config,
      qemuBindingFacts(accel, saved.binding.hypervisorVersion),
      await kernelDigestFor(config.kernel.vmlinuxPath, saved),
    );
    checkBinding(saved.binding, expected, label, file);
    return { sidecar: saved, stream };
  }

  private async accel(config: VMConfig): Promise<Accel> {
    const wanted = this.options.accel ?? 'auto';
    if (wanted !== 'auto') return wanted;
    if (this.options.accelCacheFile === undefined) {
      throw internal('qemu driver: accel "auto" needs accelCacheFile');
    }
    const choice = await chooseAccel({
      qemuBinary: this.binary,
      cacheFile: this.options.accelCacheFile,
      kernelPath: config.kernel.vmlinuxPath,
    });
    this.options.logger?.info({ accel: choice.accel, reason: choice.reason }, 'qemu accelerator');
    return choice.accel;
  }
}

function versionOf(greeting: QMPGreeting): string {
  const v = greeting.QMP.version.qemu;
  return `${v.major}.${v.minor}.${v.micro}`;
}
