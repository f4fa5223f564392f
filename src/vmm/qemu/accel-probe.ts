import { access, constants, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { dirname } from 'node:path';
import { AppError } from '../../errors.js';
import { runUnchecked } from '../../system/exec.js';
import { MICROVM_MACHINE, type Accel } from './qemu-command.js';

/**
 * Picks KVM or TCG. `/dev/kvm` existing proves little: on hosts with PVM's kvm module the device
 * opens and KVM_CREATE_VM succeeds, yet stock kernels never boot (they stall in the decompressor
 * or die with "KVM internal error"). So KVM is chosen only when a probe boot shows it works: QEMU
 * boots the VM's own kernel with the same machine and CPU flags the driver uses, no disk, and
 * `root=` pointing nowhere; a working boot reaches "VFS: Unable to mount root fs", panics and,
 * with `panic=-1 -no-reboot`, exits on its own in well under a second. A broken one says nothing
 * until the timeout. The verdict is cached per QEMU version and host kernel, so the probe runs
 * once per upgrade.
 */
export interface AccelProbeOptions {
  qemuBinary: string;
  /** The verdict's cache, e.g. `<dataDir>/.cache/accel.json`. */
  cacheFile: string;
  /** A forced choice (the CLI passes IGNITE_ACCEL=kvm|tcg here); skips probe and cache. */
  override?: Accel;
  /** The PVH vmlinux to boot for the probe. */
  kernelPath: string;
  kvmDevice?: string;
  timeoutMs?: number;
  /** Injected for tests; defaults to probeBoot. */
  probe?: (accel: Accel) => Promise<ProbeResult>;
  /** Injected for tests; defaults to `<qemu> --version`. */
  qemuVersion?: () => Promise<string>;
}

export interface AccelChoice {
  accel: Accel;
  /** Why: for logs and `ignite version`. */
  reason: string;
}

export interface ProbeResult {
  ok: boolean;
  detail: string;
  ms: number;
}

interface CacheEntry {
  qemuVersion: string;
  hostKernel: string;
  accel: Accel;
  reason: string;
  probedAt: string;
}

/** The line a booted-but-rootless Linux prints before it panics. */
const BOOTED = /VFS: Unable to mount root fs/;
const DEFAULT_TIMEOUT_MS = 8000;

export async function chooseAccel(options: AccelProbeOptions): Promise<AccelChoice> {
  if (options.override !== undefined) {
    return { accel: options.override, reason: `forced to ${options.override}` };
  }
  const kvmDevice = options.kvmDevice ?? '/dev/kvm';
  try {
    await access(kvmDevice, constants.R_OK | constants.W_OK);
  } catch {
    return { accel: 'tcg', reason: `${kvmDevice} is missing or not usable` };
  }
  const qemuVersion = await (options.qemuVersion ?? (() => readQemuVersion(options.qemuBinary)))();
  const hostKernel = release();
  const cached = await readCache(options.cacheFile);
  if (cached?.qemuVersion === qemuVersion && cached.hostKernel === hostKernel) {
    return { accel: cached.accel, reason: `${cached.reason} (cached ${cached.probedAt})` };
  }
  const probe =
    options.probe ??
    ((accel: Accel) => probeBoot(options.qemuBinary, options.kernelPath, accel, options.timeoutMs));
  const result = await probe('kvm');
  const choice: AccelChoice = result.ok
    ? { accel: 'kvm', reason: `a KVM probe boot worked in ${result.ms} ms` }
    : { accel: 'tcg', reason: `a KVM probe boot failed: ${result.detail}` };
  await writeCache(options.cacheFile, {
    qemuVersion,
    hostKernel,
    ...choice,
    probedAt: new Date().toISOString(),
  });
  return choice;
}

/** Boots `kernelPath` with `accel` until it panics for want of a root disk (see above). */
export async function probeBoot(
  qemuBinary: string,
  kernelPath: string,
  accel: Accel,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<ProbeResult> {
  const start = Date.now();
  const args = [
    '-M',
    MICROVM_MACHINE,
    '-accel',
    accel,
    ...(accel === 'kvm' ? ['-cpu', 'host'] : []),
    '-m',
    '128M',
    '-smp',
    '1',
    '-nodefaults',
    '-no-user-config',
    '-nographic',
    '-no-reboot',
    '-serial',
    'stdio',
    '-kernel',
    kernelPath,
    '-append',
    // TCG only matters for tests of the probe itself; a fixed rate is enough to reach root mount.
    `console=ttyS0 quiet panic=-1 root=/dev/ignite-probe-none${accel === 'tcg' ? ' tsc_early_khz=2000000' : ''}`,
  ];
  try {
    const r = await runUnchecked(qemuBinary, args, { timeoutMs, maxBuffer: 4 * 1024 * 1024 });
    const ms = Date.now() - start;
    if (BOOTED.test(r.stdout)) return { ok: true, detail: 'reached the root mount', ms };
    // QEMU exits 0 on the SIGTERM of the timeout, so a stalled guest looks like a clean exit.
    if (ms >= timeoutMs) return { ok: false, detail: `no boot within ${timeoutMs} ms`, ms };
    const last = `${r.stdout}\n${r.stderr}`.trim().split('\n').slice(-2).join(' | ');
    return { ok: false, detail: `exit ${r.exitCode}: ${last || 'no output'}`, ms };
  } catch (err) {
    const detail = err instanceof AppError ? err.message : String(err);
    return { ok: false, detail, ms: Date.now() - start };
  }
}

/** The first line of `qemu --version`, e.g. "QEMU emulator version 7.2.22 (Debian …)". */
export async function readQemuVersion(qemuBinary: string): Promise<string> {
  const r = await runUnchecked(qemuBinary, ['--version'], { timeoutMs: 10_000 });
  return r.stdout.split('\n')[0]?.trim() ?? '';
}

async function readCache(file: string): Promise<CacheEntry | undefined> {
  try {
    const e = JSON.parse(await readFile(file, 'utf8')) as Partial<CacheEntry>;
    if (e.accel !== 'kvm' && e.accel !== 'tcg') return undefined;
    return e as CacheEntry;
  } catch {
    return undefined;
  }
}

async function writeCache(file: string, entry: CacheEntry): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(entry, null, 2)}\n`);
  await rename(tmp, file);
}
