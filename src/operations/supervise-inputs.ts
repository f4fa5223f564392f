import type { StoredVM } from '../api/index.js';
import { failedPrecondition, invalidArgument } from '../errors.js';
import type { NetworkAttachRequest, UserNIC } from '../network/vm-network.js';
import type { UserNICConfig, VMMDriver } from '../vmm/vmm-driver.js';
import { VMM_ANNOTATION } from './build-vm.js';
import { guestAddressOf } from './clone-source.js';
import type { Services } from './services.js';
import { networkTargetsOf, type NetworkTargetServices } from './vm-network-target.js';
import { vmLabel } from './vm-paths.js';

/** The driver for a VM, by its annotation (VMs from before the annotation run on QEMU). */
export function driverFor(s: Pick<Services, 'vmms'>, vm: StoredVM): VMMDriver {
  const vmm = vm.metadata.annotations?.[VMM_ANNOTATION] ?? 'qemu';
  const driver = s.vmms.driver(vmm);
  if (driver === undefined) throw invalidArgument(`vm "${vm.metadata.name}": unknown vmm "${vmm}"`);
  return driver;
}

/**
 * What a start of the VM asks of the network: its mode, named networks (their files and rules
 * put in place again), host ports, and a clone's own guest address.
 */
export async function attachRequestOf(
  s: NetworkTargetServices,
  vm: StoredVM,
): Promise<NetworkAttachRequest> {
  const guest = guestAddressOf(vm);
  return {
    uid: vm.metadata.uid,
    name: vm.metadata.name,
    mode: vm.spec.network.mode,
    networks: await networkTargetsOf(s, vm, { ensure: true }),
    ports: vm.spec.network.ports ?? [],
    ...(guest !== undefined ? { guestAddress: guest } : {}),
  };
}

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
