import { normalizeImageRef, type ObjectMeta } from '../api/index.js';
import { failedPrecondition, invalidArgument } from '../errors.js';
import type { CreateVMOptions } from './build-vm.js';
import type { Services } from './services.js';
import { BASE_SNAPSHOTS_ANNOTATION, baseSnapshots } from './snapshots.js';

/**
 * A clone's guest address and prefix (`10.61.0.2/16`): the one its snapshot's guest had, which
 * the network NATs the clone's own address to.
 */
export const GUEST_ADDRESS_ANNOTATION = 'ignite.weave.works/guest-address';

/** The guest address a clone keeps in memory, from its annotation; undefined for other VMs. */
export function guestAddressOf(vm: {
  metadata: ObjectMeta;
}): { address: string; prefixLength: number } | undefined {
  const m = /^((?:\d{1,3}\.){3}\d{1,3})\/(\d{1,2})$/.exec(
    vm.metadata.annotations?.[GUEST_ADDRESS_ANNOTATION] ?? '',
  );
  return m?.[1] !== undefined ? { address: m[1], prefixLength: Number(m[2]) } : undefined;
}

/** What a VM made from a snapshot (`run --from-snapshot`) is made of. */
export interface CloneSource {
  /** The create options, with the snapshot's image, kernel, vCPUs, memory and hypervisor. */
  options: CreateVMOptions;
  /** The snapshot's frozen disk, which the clone's own overlay goes over. */
  disk: string;
  /** The snapshot's state, which the clone's first start resumes. */
  state: string;
  /** The clone's annotations: the snapshots its disk sits on. */
  annotations: Record<string, string>;
}

/**
 * Resolves `options.fromSnapshot` into what the clone is made of. Its vCPUs and memory default to
 * the snapshot's (others fail at start, as the state is bound to them). Refused: another image,
 * files to copy or SSH keys (nothing is written into a clone's disk: it is the snapshot's), and a
 * network mode that does not match the source's having a NIC. A networked clone's guest keeps the
 * address its source had; the network NATs the clone's own address to it.
 */
export async function cloneSource(
  s: Pick<Services, 'client' | 'stateFiles'>,
  options: CreateVMOptions & { fromSnapshot: string },
): Promise<CloneSource> {
  const snap = await s.client.snapshots.find(options.fromSnapshot);
  const label = `snapshot "${snap.metadata.name}"`;
  const files = snap.status.files;
  if (files === undefined || !(await s.stateFiles.has(files.state)))
    throw failedPrecondition(`${label}: has no saved state to start from`, {
      hint: 'take a new snapshot of the VM',
    });
  const m = options.manifest?.spec;
  const image = options.image ?? m?.image.ociClaim.ref;
  if (image !== undefined && normalizeImageRef(image) !== snap.spec.image)
    throw invalidArgument(`${label}: its image is ${snap.spec.image}, not ${image}`, {
      hint: 'leave the image out with --from-snapshot',
    });
  const ssh = options.ssh ?? m?.ssh;
  if (
    (options.copyFiles?.length ?? 0) + (m?.copyFiles?.length ?? 0) > 0 ||
    (ssh !== undefined && ssh !== false)
  )
    throw invalidArgument(
      `${label}: a clone's disk is the snapshot's; --copy-files and --ssh cannot write into it`,
    );
  // The saved guest has a NIC when its source had a network, and none otherwise: so has a clone.
  const mode = options.networkMode ?? options.manifest?.spec.network?.mode;
  const guest = snap.spec.guestAddress;
  if (guest === undefined && mode !== 'none')
    throw invalidArgument(
      `${label}: its VM had no network, so neither can a clone: give --net none`,
    );
  if (guest !== undefined && mode === 'none')
    throw invalidArgument(`${label}: its VM had a network, so a clone needs one too`, {
      hint: 'leave --net out, or give the mode the VM had',
    });
  return {
    options: {
      ...options,
      image: snap.spec.image,
      kernelImage: snap.spec.kernel,
      cpus: options.cpus ?? m?.cpus ?? snap.spec.cpus,
      memory: options.memory ?? m?.memory ?? snap.spec.memory,
      vmm: snap.spec.vmm,
    },
    disk: files.disk,
    state: files.state,
    annotations: {
      [BASE_SNAPSHOTS_ANNOTATION]: [...baseSnapshots(snap), snap.metadata.uid].join(','),
      ...(guest !== undefined ? { [GUEST_ADDRESS_ANNOTATION]: guest } : {}),
    },
  };
}
