import { Size } from '../meta/size.js';
import { normalizeImageRef } from '../meta/oci-image-ref.js';
import type { Stored } from '../meta/stored.js';
import type { Host } from './host.js';
import type { Snapshot } from './snapshot.js';
import type { Volume } from './volume.js';
import type { Network } from './network.js';
import type { Image, Kernel, NetworkMode, VM, VMSpec, VMStatus } from './types.js';

/**
 * Defaulting, as Weave Ignite v0.4.0 did it. The values can be overridden per host (for example
 * the kernel image, since Docker Hub may be out of reach), but the base values are Ignite's.
 */
export interface VMDefaults {
  cpus: number;
  memory: Size;
  diskSize: Size;
  kernelImage: string;
  kernelCmdLine: string;
  networkMode: NetworkMode;
}

export const IGNITE_V04_DEFAULTS: Readonly<VMDefaults> = Object.freeze({
  cpus: 1,
  memory: Size.parse('512MB'),
  diskSize: Size.parse('4GB'),
  kernelImage: normalizeImageRef('weaveworks/ignite-kernel:4.19.47'),
  kernelCmdLine: 'console=ttyS0 reboot=k panic=1 pci=off ip=dhcp',
  networkMode: 'docker-bridge',
});

/** `T` with the keys `K` present and not undefined. */
type Present<T, K extends keyof T> = Omit<T, K> & { [P in K]-?: NonNullable<T[P]> };

type VMKernel = NonNullable<VMSpec['kernel']>;
type VMNetwork = NonNullable<VMSpec['network']>;

/** A VM spec after defaulting: every field a VMM needs is present. */
export type DefaultedVMSpec = Present<VMSpec, 'cpus' | 'memory' | 'diskSize'> & {
  kernel: Omit<VMKernel, 'ociClaim' | 'cmdLine'> & {
    ociClaim: Present<VMKernel['ociClaim'], 'type'>;
    cmdLine: string;
  };
  network: Present<VMNetwork, 'mode'>;
};
export type DefaultedVMStatus = Present<VMStatus, 'state'>;
/** A VM after defaulting, as create builds it and the store returns it. */
export type DefaultedVM = Omit<VM, 'spec' | 'status'> & {
  spec: DefaultedVMSpec;
  status: DefaultedVMStatus;
};

/** A VM as the store returns it: defaulted, with its UID, name and status. */
export type StoredVM = Stored<DefaultedVM>;
export type StoredImage = Stored<Image>;
export type StoredKernel = Stored<Kernel>;
export type StoredSnapshot = Stored<Snapshot>;
export type StoredHost = Stored<Host>;
export type StoredVolume = Stored<Volume>;
export type StoredNetwork = Stored<Network>;

/** What the store returns, by kind. */
export interface StoredKindMap {
  VM: StoredVM;
  Image: StoredImage;
  Kernel: StoredKernel;
  Snapshot: StoredSnapshot;
  Host: StoredHost;
  Volume: StoredVolume;
  Network: StoredNetwork;
}

export function setVMSpecDefaults(
  spec: VMSpec,
  defaults: Readonly<VMDefaults> = IGNITE_V04_DEFAULTS,
): DefaultedVMSpec {
  const kernel = spec.kernel ?? { ociClaim: { ref: defaults.kernelImage } };
  const network = spec.network ?? {};
  return {
    ...spec,
    image: {
      ...spec.image,
      ociClaim: { type: spec.image.ociClaim.type ?? 'Docker', ref: spec.image.ociClaim.ref },
    },
    kernel: {
      ociClaim: { type: kernel.ociClaim.type ?? 'Docker', ref: kernel.ociClaim.ref },
      cmdLine: kernel.cmdLine ?? defaults.kernelCmdLine,
    },
    cpus: spec.cpus ?? defaults.cpus,
    memory: spec.memory ?? defaults.memory,
    diskSize: spec.diskSize ?? defaults.diskSize,
    network: { ...network, mode: network.mode ?? defaults.networkMode },
  };
}

export function setVMStatusDefaults(status: VMStatus | undefined): DefaultedVMStatus {
  return { ...status, state: status?.state ?? 'Created' };
}

export function setVMDefaults(
  vm: VM,
  defaults: Readonly<VMDefaults> = IGNITE_V04_DEFAULTS,
): DefaultedVM {
  return {
    ...vm,
    spec: setVMSpecDefaults(vm.spec, defaults),
    status: setVMStatusDefaults(vm.status),
  };
}

export function setImageDefaults(image: Image): Image {
  return {
    ...image,
    spec: {
      ociClaim: { type: image.spec.ociClaim.type ?? 'Docker', ref: image.spec.ociClaim.ref },
    },
    status: image.status ?? {},
  };
}

export function setKernelDefaults(kernel: Kernel): Kernel {
  return {
    ...kernel,
    spec: {
      ociClaim: { type: kernel.spec.ociClaim.type ?? 'Docker', ref: kernel.spec.ociClaim.ref },
    },
    status: kernel.status ?? {},
  };
}

/** A snapshot's status is there once stored; everything else in it is given by its creator. */
export function setSnapshotDefaults(snapshot: Snapshot): Snapshot {
  return { ...snapshot, status: snapshot.status ?? {} };
}

/** A host's status is there once stored. */
export function setHostDefaults(host: Host): Host {
  return { ...host, status: host.status ?? {} };
}

/** A volume is ext4 unless it says raw; its status is there once stored. */
export function setVolumeDefaults(volume: Volume): Volume {
  return {
    ...volume,
    spec: { ...volume.spec, format: volume.spec.format ?? 'ext4' },
    status: volume.status ?? {},
  };
}

/** A network's policy fields are present once stored: NAT on, isolation off, unless given. */
export function setNetworkDefaults(network: Network): Network {
  return {
    ...network,
    spec: {
      ...network.spec,
      nat: network.spec.nat ?? true,
      isolated: network.spec.isolated ?? false,
    },
    status: network.status ?? {},
  };
}
