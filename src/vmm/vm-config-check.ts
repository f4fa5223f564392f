import { access, constants } from 'node:fs/promises';
import { invalidArgument, notFound } from '../errors.js';
import type { VMConfig } from './vmm-driver.js';

/** `vm "web"`: how every driver error starts. */
export function vmLabel(config: Pick<VMConfig, 'name' | 'uid'>): string {
  return `vm "${config.name === '' ? config.uid : config.name}"`;
}

/**
 * Checks what a hypervisor would otherwise reject with a less helpful message, before anything
 * is started: sizes, and that the kernel, initrd and root disk are readable files.
 */
export async function checkVMConfig(config: VMConfig): Promise<void> {
  const label = vmLabel(config);
  if (!Number.isInteger(config.vcpus) || config.vcpus < 1) {
    throw invalidArgument(
      `${label}: vcpus must be a whole number of at least 1, not ${config.vcpus}`,
    );
  }
  if (!Number.isInteger(config.memoryMiB) || config.memoryMiB < 16) {
    throw invalidArgument(`${label}: memory must be at least 16 MiB, not ${config.memoryMiB}`);
  }
  const files: [string, string | undefined][] = [
    ['kernel', config.kernel.vmlinuxPath],
    ['initrd', config.kernel.initrdPath],
    ['root disk', config.rootDisk.path],
  ];
  for (const [what, path] of files) {
    if (path === undefined) continue;
    try {
      await access(path, constants.R_OK);
    } catch (err) {
      throw notFound(`${label}: ${what} ${path}: not found or not readable`, { cause: err });
    }
  }
}
