import { existsSync } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import type { HostFacts } from './host-facts.js';

/** The facts of the running Node process. */
export function nodeHostFacts(): HostFacts {
  const uid = process.getuid?.() ?? -1;
  return {
    isRoot: uid === 0,
    uid,
    pid: process.pid,
    nodeVersion: process.version,
    platform: `${process.platform}/${process.arch}`,
    hasKVMDevice: () => existsSync('/dev/kvm'),
    cpus: availableParallelism(),
    memoryBytes: totalmem(),
  };
}
