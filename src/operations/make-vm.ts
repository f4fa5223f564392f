import { USER_NET_DNS } from '../network/user-network.js';
import type {
  DefaultedVM,
  DefaultedVMStatus,
  StoredImage,
  StoredKernel,
  StoredVM,
} from '../api/index.js';
import type { NamedNetworkTarget } from '../network/vm-network.js';
import type { VMMName } from '../vmm/vmm-driver.js';
import type { Services } from './services.js';
import { guestModules, requireBootableKernel } from './vm-kernel.js';
import { networkTargetsOf } from './vm-network-target.js';
import { vmLabel } from './vm-paths.js';
import { attachedVolumes, fstabLines } from './vm-storage.js';

export type MakeVMServices = Pick<
  Services,
  | 'layout'
  | 'logger'
  | 'network'
  | 'vmms'
  | 'imports'
  | 'rootDisks'
  | 'runtimeFiles'
  | 'sshKeys'
  | 'stateFiles'
  | 'client'
  | 'namedNetworks'
  | 'trace'
>;

/** What a VM boots from, in this host's data dir. */
export interface VMArtifacts {
  image: StoredImage;
  kernel: StoredKernel;
}

/**
 * Imports the VM's kernel and image into this host's data dir when they are missing: the kernel
 * first, so one the hypervisor cannot boot is refused before the image is pulled.
 */
export async function importVMArtifacts(
  s: Pick<MakeVMServices, 'imports' | 'vmms' | 'layout'>,
  vm: DefaultedVM,
  vmm: VMMName,
): Promise<VMArtifacts> {
  const kernel = await s.imports.kernel(vm.spec.kernel.ociClaim.ref);
  await requireBootableKernel(s, vmm, kernel);
  const image = await s.imports.image(vm.spec.image.ociClaim.ref);
  return { image, kernel };
}

/** The status of a VM made from `a`: Created, with where its image and kernel came from. */
export function createdStatus(a: VMArtifacts): DefaultedVMStatus {
  return {
    state: 'Created',
    ...(a.image.status?.ociSource ? { image: a.image.status.ociSource } : {}),
    ...(a.kernel.status?.ociSource ? { kernel: a.kernel.status.ociSource } : {}),
  };
}

export interface VMFilesOptions extends VMArtifacts {
  vmm: VMMName;
  /** Public keys to authorize in the guest; a generated key is added for `spec.ssh: true`. */
  authorizedKeys: string[];
  /** A snapshot's disk and state to make the VM over (a clone). */
  clone?: { disk: string; state: string };
  /** The VM's named networks, checked by the caller; looked up here when not given. */
  networks?: NamedNetworkTarget[];
}

/**
 * Makes a stored VM's files on this host: its network reservation, made while the rest is, its
 * SSH key pair when it asks for one, and its root disk from the image (over a snapshot's for
 * a clone). On failure, the address is released; the caller decides what becomes of the stored VM.
 */
export async function makeVMFiles(
  s: MakeVMServices,
  vm: StoredVM,
  o: VMFilesOptions,
): Promise<void> {
  const uid = vm.metadata.uid;
  const name = vm.metadata.name;
  const label = vmLabel(vm);
  const authorizedKeys = [...o.authorizedKeys];
  const reserving = s.trace.span('files: reserve address', async () =>
    s.network.reserve({
      uid,
      name,
      mode: vm.spec.network.mode,
      ports: vm.spec.network.ports ?? [],
      networks: o.networks ?? (await networkTargetsOf(s, vm)),
    }),
  );
  // Awaited after the disk; its failure must not go unhandled meanwhile.
  reserving.catch(() => undefined);
  try {
    const vmDir = s.layout.objectDir('VM', uid);
    if (vm.spec.ssh === true) authorizedKeys.push(await s.sshKeys.generate(vmDir, uid));
    const imageBytes = o.image.status?.ociSource?.size?.bytes ?? 0;
    let size = vm.spec.diskSize.bytes;
    if (size < imageBytes) {
      s.logger.warn({ vm: name }, `${label}: disk size raised to the image's size`);
      size = imageBytes;
    }
    const imagePath = s.layout.imageExt4(o.image.metadata.uid);
    // Both settle before any failure is acted on: the address is released only once reserved.
    const made = await Promise.allSettled([
      makeRootDisk(s, vm, { ...o, authorizedKeys, size, imagePath, vmDir }),
      reserving,
    ]);
    for (const r of made) if (r.status === 'rejected') throw r.reason;
    // A clone's first start resumes the snapshot's state, linked as the VM's own saved state.
    if (o.clone !== undefined) await s.stateFiles.link(o.clone.state, s.layout.vm(uid).savedState);
  } catch (err) {
    await s.network.release({ uid }).catch(() => undefined);
    throw err;
  }
}

/** The VM's root disk, `size` bytes, over the image at `imagePath` (or a snapshot's disk). */
async function makeRootDisk(
  s: MakeVMServices,
  vm: StoredVM,
  o: VMFilesOptions & { size: number; imagePath: string; vmDir: string },
): Promise<void> {
  const { name } = vm.metadata;
  const { authorizedKeys, size, imagePath, vmDir } = o;
  const label = vmLabel(vm);
  const modules = await guestModules(s, o.kernel, imagePath, label);
  const volumes = attachedVolumes(vm.spec.storage);
  const disk = s.rootDisks.create({
    imagePath,
    vmDir,
    format: o.vmm === 'firecracker' ? 'raw' : 'qcow2',
    sizeBytes: size,
    hostname: name,
    authorizedKeys,
    copyFiles: vm.spec.copyFiles ?? [],
    // The host's resolvers are not the guest's to reach in user mode: its stack answers DNS.
    ...(vm.spec.network.mode === 'user' ? { nameservers: [USER_NET_DNS] } : {}),
    ...(volumes.length > 0
      ? {
          fstab: fstabLines(volumes),
          mountPoints: volumes.flatMap((v) => (v.mountPath !== undefined ? [v.mountPath] : [])),
        }
      : {}),
    ...(modules !== undefined ? { modules } : {}),
    ...(o.clone !== undefined
      ? { over: o.clone.disk }
      : { grownBaseDir: s.layout.objectDir('Image', o.image.metadata.uid) }),
    label,
  });
  await s.trace.span('files: root disk', () => disk);
}
