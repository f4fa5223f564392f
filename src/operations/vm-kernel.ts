import type { StoredKernel } from '../api/index.js';
import { failedPrecondition } from '../errors.js';
import type { GuestModules } from '../vmm/disk/root-disks.js';
import type { VMMName } from '../vmm/vmm-driver.js';
import type { Services } from './services.js';

/** What each hypervisor's refusal of a kernel tells the user to do instead. */
const WAY_OUT: Record<VMMName, string> = {
  qemu: 'use a PVH kernel such as ignite-kernel:6.1-micro (--kernel-image), or install Firecracker and use --vmm firecracker',
  firecracker: 'use another kernel (--kernel-image)',
};

/**
 * Refuses, before a VM is stored, a kernel its hypervisor cannot boot: a vmlinux without a PVH
 * entry point would otherwise fail inside QEMU, after the VM was made.
 */
export async function requireBootableKernel(
  s: Pick<Services, 'vmms' | 'layout'>,
  vmm: VMMName,
  kernel: StoredKernel,
): Promise<void> {
  const driver = s.vmms.driver(vmm);
  if (driver === undefined) return;
  const boots = await driver.bootsKernel(s.layout.kernelFiles(kernel.metadata.uid).vmlinux);
  if (boots.available) return;
  throw failedPrecondition(
    `kernel "${kernel.metadata.name}": ${vmm} cannot boot it: ${boots.reason}`,
    {
      hint: WAY_OUT[vmm],
    },
  );
}

/**
 * The kernel's modules for a new VM's root disk: those the kernel image carried for its own
 * release (`<kernel dir>/modules.tar`), unless the base image has `/lib/modules/<release>`
 * already, which is then the image's to keep.
 */
export async function guestModules(
  s: Pick<Services, 'layout' | 'runtimeFiles' | 'rootDisks' | 'logger'>,
  kernel: StoredKernel,
  imagePath: string,
  label: string,
): Promise<GuestModules | undefined> {
  const release = kernel.status.version;
  if (release === undefined) return undefined;
  const tarPath = s.layout.kernelFiles(kernel.metadata.uid).modules;
  if (!(await s.runtimeFiles.exists(tarPath))) return undefined;
  const dir = `/lib/modules/${release}`;
  if (await s.rootDisks.imageHas(imagePath, dir)) {
    s.logger.debug(
      { kernel: kernel.metadata.name },
      `${label}: the image has ${dir}; kept as it is`,
    );
    return undefined;
  }
  return { tarPath, release };
}
