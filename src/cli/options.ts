import { isAbsolute } from 'node:path';
import { Size, type FileMapping, type PortMapping } from '../api/index.js';
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
  const m = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/i.exec(value.trim());
  if (!m)
    throw invalidArgument(
      `--ports "${value}": expected hostPort:vmPort[/tcp|udp], such as 8080:80`,
    );
  const hostPort = Number(m[1]);
  const vmPort = Number(m[2]);
  for (const p of [hostPort, vmPort]) {
    if (p < 1 || p > 65535) throw invalidArgument(`--ports "${value}": ports are 1 to 65535`);
  }
  const protocol = m[3]?.toLowerCase();
  return protocol === 'udp' ? { hostPort, vmPort, protocol: 'udp' } : { hostPort, vmPort };
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
