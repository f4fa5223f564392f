import type { StoredVM } from '../api/index.js';
import { failedPrecondition } from '../errors.js';
import type { UserNIC } from '../network/vm-network.js';
import type { UserNICConfig } from '../vmm/vmm-driver.js';
import type { Services } from './services.js';
import { vmLabel } from './vm-paths.js';

/** The hypervisor's part of a user-mode NIC (the SSH port is the network's and the CLI's). */
export function userNICOf(nic: UserNIC): UserNICConfig {
  return nic.backend === 'passt'
    ? { backend: 'passt', mac: nic.mac, socket: nic.socket }
    : { backend: 'slirp', mac: nic.mac, forwards: nic.forwards };
}

/** The kernel files of the VM's kernel object: `<dataDir>/kernel/<uid>/vmlinux` and an initrd if any. */
export async function kernelFiles(
  s: Pick<Services, 'client' | 'layout' | 'runtimeFiles'>,
  vm: StoredVM,
): Promise<{ vmlinux: string; initrd?: string }> {
  const ref = vm.spec.kernel.ociClaim.ref;
  const kernel = await s.client.kernels.findByName(ref);
  if (kernel?.metadata.uid === undefined) {
    throw failedPrecondition(`${vmLabel(vm)}: kernel "${ref}" is not imported`, {
      hint: `ignite kernel import ${ref}`,
    });
  }
  const { vmlinux, initrd } = s.layout.kernelFiles(kernel.metadata.uid);
  if (!(await s.runtimeFiles.exists(vmlinux))) {
    throw failedPrecondition(`kernel "${ref}": ${vmlinux} is missing`, {
      hint: 'remove and import the kernel again',
    });
  }
  return (await s.runtimeFiles.exists(initrd)) ? { vmlinux, initrd } : { vmlinux };
}
