import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { failedPrecondition } from '../../errors.js';
import { runUnchecked } from '../../system/exec.js';

/**
 * The host's TSC rate in kHz, which a TCG guest needs as `tsc_early_khz=`: under TCG the guest
 * reads the host's TSC, PIT calibration fails, and microvm has no HPET, so without it about one
 * boot in four hangs at "tsc: Marking TSC unstable" (docs: host-facts.md).
 *
 * Sources, best first:
 * 1. `/sys/devices/system/cpu/cpu0/tsc_freq_khz` (exact; only some kernels have it);
 * 2. the kernel log: "tsc: Refined TSC clocksource calibration: N MHz", else
 *    "tsc: Detected N MHz processor" (needs permission to read dmesg);
 * 3. the first `cpu MHz` of /proc/cpuinfo (the current clock: close on fixed-rate hosts).
 */
export interface TscSources {
  sysfs: () => Promise<string | undefined>;
  dmesg: () => Promise<string | undefined>;
  cpuinfo: () => Promise<string | undefined>;
}

export interface HostTsc {
  kHz: number;
  source: 'sysfs' | 'dmesg' | 'cpuinfo';
}

const readOrUndefined = (path: string) => () => readFile(path, 'utf8').catch(() => undefined);

export const hostTscSources: TscSources = {
  sysfs: readOrUndefined('/sys/devices/system/cpu/cpu0/tsc_freq_khz'),
  dmesg: async () => {
    try {
      const r = await runUnchecked('dmesg', [], { timeoutMs: 5000 });
      return r.exitCode === 0 ? r.stdout : undefined;
    } catch {
      return undefined;
    }
  },
  cpuinfo: readOrUndefined('/proc/cpuinfo'),
};

/** Parses the kernel log; the refined calibration wins over the early estimate. */
export function tscKHzFromDmesg(log: string): number | undefined {
  const refined = /tsc: Refined TSC clocksource calibration: (\d+(?:\.\d+)?) MHz/.exec(log);
  const detected = /tsc: Detected (\d+(?:\.\d+)?) MHz processor/.exec(log);
  const mhz = refined?.[1] ?? detected?.[1];
  return mhz === undefined ? undefined : Math.round(Number(mhz) * 1000);
}

export function tscKHzFromCpuinfo(cpuinfo: string): number | undefined {
  const m = /^cpu MHz\s*:\s*(\d+(?:\.\d+)?)/m.exec(cpuinfo);
  return m?.[1] === undefined ? undefined : Math.round(Number(m[1]) * 1000);
}

export async function detectHostTsc(sources: TscSources = hostTscSources): Promise<HostTsc> {
  const sysfs = Number((await sources.sysfs())?.trim());
  if (Number.isInteger(sysfs) && sysfs > 0) return { kHz: sysfs, source: 'sysfs' };
  const dmesg = await sources.dmesg();
  const fromLog = dmesg === undefined ? undefined : tscKHzFromDmesg(dmesg);
  if (fromLog !== undefined && fromLog > 0) return { kHz: fromLog, source: 'dmesg' };
  const cpuinfo = await sources.cpuinfo();
  const fromCpuinfo = cpuinfo === undefined ? undefined : tscKHzFromCpuinfo(cpuinfo);
  if (fromCpuinfo !== undefined && fromCpuinfo > 0) return { kHz: fromCpuinfo, source: 'cpuinfo' };
  throw failedPrecondition('host: cannot tell the TSC rate (no tsc_freq_khz, dmesg or cpu MHz)', {
    hint: 'TCG guests need it; set the rate by hand in the QEMU driver options (tscKHz)',
  });
}

/**
 * detectHostTsc, remembered in `cacheFile` for the rest of this host's boot (the TSC rate does not
 * change while it runs): reading the kernel log on every VM start cost a tenth of a second.
 */
export async function detectHostTscCached(
  cacheFile: string,
  sources: TscSources = hostTscSources,
): Promise<HostTsc> {
  const bootId = (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
  const cached = await readFile(cacheFile, 'utf8').then(
    (t) => JSON.parse(t) as Partial<HostTsc> & { bootId?: string },
    () => undefined,
  );
  if (
    bootId !== '' &&
    cached?.bootId === bootId &&
    typeof cached.kHz === 'number' &&
    cached.kHz > 0 &&
    cached.source !== undefined
  )
    return { kHz: cached.kHz, source: cached.source };
  const found = await detectHostTsc(sources);
  if (bootId !== '') {
    // Written whole or not at all: a reader never sees half a file.
    await mkdir(dirname(cacheFile), { recursive: true, mode: 0o700 }).catch(() => undefined);
    const tmp = `${cacheFile}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ ...found, bootId }))
      .then(() => rename(tmp, cacheFile))
      .catch(() => rm(tmp, { force: true }));
  }
  return found;
}
