import type { PortMapping } from '../api/index.js';
import { invalidArgument } from '../errors.js';

/** Refuses two mappings of the same host port and protocol, as Ignite did. */
export function checkPortConflicts(ports: readonly PortMapping[]): void {
  const seen = new Set<string>();
  for (const p of ports) {
    const key = `${p.hostPort}/${p.protocol ?? 'tcp'}`;
    if (seen.has(key)) throw invalidArgument(`--ports: host port ${key} is mapped twice`);
    seen.add(key);
  }
}
