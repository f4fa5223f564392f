import { isAbsolute } from 'node:path';
import {
  Size,
  type FileMapping,
  type PortMapping,
  type VMNetworkAttachment,
} from '../api/index.js';
import { invalidArgument } from '../errors.js';

/**
 * The option parsers commands share. Each error names the flag and the value. The VM flags are
 * Ignite's: `-p hostPort:vmPort[/tcp|udp]`, `-f /host:/vm`, `-l k=v`.
 */

/** Commander's collector for a repeatable option: each use adds its value. */
export const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** Parses `30s`, `2m`, `500ms` or a plain number of seconds into milliseconds. */
export function parseDuration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  if (!m)
    throw invalidArgument(`duration "${value}": expected a number with ms, s, m or h, such as 30s`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  return Math.round(
    n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'],
  );
}

/** Parses a size flag (`512MB`, `4GB`); the error names the flag. */
export function parseSize(flag: string, value: string): Size {
  try {
    return Size.parse(value);
  } catch (err) {
    throw invalidArgument(`${flag} ${value}: ${(err as Error).message}`);
  }
}

/**
 * Parsers for the VM flags Ignite had: `-p hostPort:vmPort[/tcp|udp]`, `-f /host:/vm`, `-l k=v`.
 * Each error names the flag and the value.
 */
export function parsePortMapping(value: string): PortMapping {
  const m = /^(?:([A-Za-z][A-Za-z0-9_.-]*):)?(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/i.exec(
    value.trim(),
  );
  if (!m)
    throw invalidArgument(
      `--ports "${value}": expected [network:]hostPort:vmPort[/tcp|udp], such as 8080:80`,
    );
  const hostPort = Number(m[2]);
  const vmPort = Number(m[3]);
  for (const p of [hostPort, vmPort]) {
    if (p < 1 || p > 65535) throw invalidArgument(`--ports "${value}": ports are 1 to 65535`);
  }
  const protocol = m[4]?.toLowerCase();
  return {
    hostPort,
    vmPort,
    ...(protocol === 'udp' ? { protocol: 'udp' as const } : {}),
    ...(m[1] !== undefined ? { network: m[1] } : {}),
  };
}

export function parseCopyFile(value: string): FileMapping {
  const i = value.indexOf(':');
  const hostPath = i < 0 ? '' : value.slice(0, i);
  const vmPath = i < 0 ? '' : value.slice(i + 1);
  if (!isAbsolute(hostPath) || !isAbsolute(vmPath)) {
    throw invalidArgument(`--copy-files "${value}": expected /host/path:/vm/path, both absolute`);
  }
  return { hostPath, vmPath };
}

export function parseLabel(value: string, flag = '--label'): [string, string] {
  const i = value.indexOf('=');
  const key = i < 0 ? value : value.slice(0, i);
  if (!/^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/.test(key)) {
    throw invalidArgument(
      `${flag} "${value}": expected key=value with a key of letters, digits, '.', '_', '-' or '/'`,
    );
  }
  return [key, i < 0 ? '' : value.slice(i + 1)];
}

const IP_TEXT = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const MAC_TEXT = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

function checkIP(flag: string, ip: string): string {
  const m = IP_TEXT.exec(ip);
  if (!m || m.slice(1).some((o) => Number(o) > 255))
    throw invalidArgument(`${flag} "${ip}": expected an IPv4 address such as 10.70.0.10`);
  return ip;
}

function checkMAC(flag: string, mac: string): string {
  if (!MAC_TEXT.test(mac) || (parseInt(mac.slice(0, 2), 16) & 1) === 1)
    throw invalidArgument(
      `${flag} "${mac}": expected a unicast MAC address such as 02:42:0a:46:00:0a`,
    );
  return mac.toLowerCase();
}

/**
 * `--network NAME[,ip=A.B.C.D][,mac=…]`, repeatable, one interface each in order, with `--ip` and
 * `--mac` for the first. An address or MAC given twice for one interface is an error.
 */
export function parseNetworks(
  values: readonly string[],
  ip?: string,
  mac?: string,
): VMNetworkAttachment[] {
  const out = values.map((value) => {
    const [name = '', ...pairs] = value.split(',');
    if (!/^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/.test(name))
      throw invalidArgument(`--network "${value}": expected NAME[,ip=A.B.C.D][,mac=MAC]`);
    const att: VMNetworkAttachment = { name };
    for (const pair of pairs) {
      const i = pair.indexOf('=');
      const key = i < 0 ? pair : pair.slice(0, i);
      const v = i < 0 ? '' : pair.slice(i + 1);
      if (key === 'ip' && att.ip === undefined) att.ip = checkIP(`--network ${name},ip`, v);
      else if (key === 'mac' && att.mac === undefined)
        att.mac = checkMAC(`--network ${name},mac`, v);
      else
        throw invalidArgument(
          `--network "${value}": unknown or repeated "${key}" (use ip= or mac=)`,
        );
    }
    return att;
  });
  const first = out[0];
  if ((ip !== undefined || mac !== undefined) && first === undefined)
    throw invalidArgument(
      `--${ip !== undefined ? 'ip' : 'mac'}: give the network with --network NAME`,
    );
  if (first !== undefined && ip !== undefined) {
    if (first.ip !== undefined)
      throw invalidArgument(`--ip ${ip}: network "${first.name}" has ip= already`);
    first.ip = checkIP('--ip', ip);
  }
  if (first !== undefined && mac !== undefined) {
    if (first.mac !== undefined)
      throw invalidArgument(`--mac ${mac}: network "${first.name}" has mac= already`);
    first.mac = checkMAC('--mac', mac);
  }
  return out;
}
