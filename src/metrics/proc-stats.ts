import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { internal, notFound } from '../errors.js';
import { run } from '../system/exec.js';

/**
 * Readers of the kernel's per-process accounting in procfs. They take a `procRoot` so tests can
 * point them at fixture trees; production passes nothing and reads `/proc`.
 */

/** Clock ticks per second (`getconf CLK_TCK`): the unit of utime/stime in `/proc/<pid>/stat`. */
export async function readClockTicks(): Promise<number> {
  const { stdout } = await run('getconf', ['CLK_TCK'], { timeoutMs: 5_000 });
  const ticks = Number(stdout.trim());
  if (!Number.isInteger(ticks) || ticks <= 0) {
    throw internal(`getconf CLK_TCK: unexpected output ${JSON.stringify(stdout.trim())}`);
  }
  return ticks;
}

/** The fields of `/proc/<pid>/stat` that the metrics use. */
export interface ProcStat {
  /** Time scheduled in user mode, in clock ticks. */
  utimeTicks: number;
  /** Time scheduled in kernel mode, in clock ticks. */
  stimeTicks: number;
}

/** Parses `/proc/<pid>/stat` (proc(5)). */
export function parseProcStat(text: string): ProcStat {
  // The command name (field 2) is in parentheses and may itself hold spaces and ')', so the
  // fields are counted from the last ')'.
  const close = text.lastIndexOf(')');
  const fields =
    close < 0
      ? []
      : text
          .slice(close + 1)
          .trim()
          .split(/\s+/);
  // fields[0] is field 3 (state); field n of proc(5) is fields[n - 3].
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime) || fields.length < 13) {
    throw internal(`proc stat: unexpected format: ${JSON.stringify(text.slice(0, 80))}`);
  }
  return { utimeTicks: utime, stimeTicks: stime };
}

/** CPU time (user + system) used by `pid`, in seconds. */
export async function readProcessCPUSeconds(
  pid: number,
  clockTicks: number,
  procRoot = '/proc',
): Promise<number> {
  const stat = parseProcStat(await readFile(join(procRoot, String(pid), 'stat'), 'utf8'));
  return (stat.utimeTicks + stat.stimeTicks) / clockTicks;
}

/** Parses the VmRSS line of `/proc/<pid>/status` into bytes; undefined when absent (zombies). */
export function parseResidentBytes(statusText: string): number | undefined {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(statusText);
  return match?.[1] === undefined ? undefined : Number(match[1]) * 1024;
}

/** Resident set size of `pid`, in bytes. */
export async function readResidentBytes(pid: number, procRoot = '/proc'): Promise<number> {
  const path = join(procRoot, String(pid), 'status');
  const bytes = parseResidentBytes(await readFile(path, 'utf8'));
  if (bytes === undefined) throw notFound(`process ${pid}: no VmRSS in ${path}`);
  return bytes;
}

/** One interface's counters from `/proc/net/dev`, as the kernel counts them for that device. */
export interface NetDevCounters {
  receiveBytes: number;
  receivePackets: number;
  receiveErrors: number;
  receiveDrops: number;
  transmitBytes: number;
  transmitPackets: number;
  transmitErrors: number;
  transmitDrops: number;
}

/** Parses `/proc/net/dev` into counters by interface name. */
export function parseNetDev(text: string): Map<string, NetDevCounters> {
  const devices = new Map<string, NetDevCounters>();
  // The first two lines are headers; each row is `name: 8 receive fields 8 transmit fields`.
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    if (f.length < 16 || f.some((n) => !Number.isFinite(n))) {
      throw internal(`proc net/dev: unexpected row for ${JSON.stringify(name)}`);
    }
    const at = (i: number): number => f[i] ?? 0;
    devices.set(name, {
      receiveBytes: at(0),
      receivePackets: at(1),
      receiveErrors: at(2),
      receiveDrops: at(3),
      transmitBytes: at(8),
      transmitPackets: at(9),
      transmitErrors: at(10),
      transmitDrops: at(11),
    });
  }
  return devices;
}

/**
 * Counters of `ifname` in the network namespace of `pid`: `/proc/<pid>/net/dev` shows the
 * namespace that process is in, so the supervisor can read a device inside the VM's namespace
 * without entering it.
 */
export async function readNetDevice(
  pid: number,
  ifname: string,
  procRoot = '/proc',
): Promise<NetDevCounters> {
  const path = join(procRoot, String(pid), 'net', 'dev');
  const row = parseNetDev(await readFile(path, 'utf8')).get(ifname);
  if (row === undefined) throw notFound(`network device "${ifname}": not in ${path}`);
  return row;
}
