import { isAbsolute } from 'node:path';
import type { FileMapping, PortMapping } from '../api/index.js';
import { invalidArgument } from '../errors.js';

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

/** Refuses two mappings of the same host port and protocol, as Ignite did. */
export function checkPortConflicts(ports: readonly PortMapping[]): void {
  const seen = new Set<string>();
  for (const p of ports) {
    const key = `${p.hostPort}/${p.protocol ?? 'tcp'}`;
    if (seen.has(key)) throw invalidArgument(`--ports: host port ${key} is mapped twice`);
    seen.add(key);
  }
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

export function parseLabel(value: string): [string, string] {
  const i = value.indexOf('=');
  const key = i < 0 ? value : value.slice(0, i);
  if (!/^[A-Za-z0-9]([A-Za-z0-9._/-]{0,251}[A-Za-z0-9])?$/.test(key)) {
    throw invalidArgument(
      `--label "${value}": expected key=value with a key of letters, digits, '.', '_', '-' or '/'`,
    );
  }
  return [key, i < 0 ? '' : value.slice(i + 1)];
}
