import {
  API_VERSION,
  formatRestartPolicy,
  NAME_PATTERN,
  normalizeImageRef,
  RESTART_POLICY_ANNOTATION,
  restartPolicyOf,
  setVMDefaults,
  type DefaultedVM,
  type FileMapping,
  type NetworkMode,
  type PortMapping,
  type RestartPolicy,
  type Size,
  type VM,
  type VMDefaults,
  type VMNetworkAttachment,
  type VMStorageSpec,
  type VMSpec,
} from '../api/index.js';
import { invalidArgument } from '../errors.js';
import { checkPortConflicts } from './vm-options.js';
import { checkStorage, mergeStorage } from './vm-storage.js';

/** Where in a fleet a VM may run. */
export type VMPlacement = NonNullable<VMSpec['placement']>;

/**
 * What `create` and `run` take. `manifest` is the VM from `--config`; every other field is a
 * flag, and a flag that is set overrides the manifest's field.
 */
export interface CreateVMOptions {
  manifest?: VM;
  /** The UID to give the VM (default: the manifest's, else a new one). */
  uid?: string;
  image?: string;
  name?: string;
  cpus?: number;
  memory?: Size;
  diskSize?: Size;
  /** Cap of the console log before it is rotated. */
  logMaxSize?: Size;
  kernelImage?: string;
  kernelArgs?: string;
  /** `true` generates a key pair; a string is a public key file to authorize. */
  ssh?: boolean | string;
  copyFiles?: FileMapping[];
  ports?: PortMapping[];
  /** Volumes and shared directories (`-v`, `--mount`), added after the manifest's. */
  storage?: VMStorageSpec;
  labels?: Record<string, string>;
  networkMode?: NetworkMode;
  /** Named networks, one interface each (`--network`); they replace the manifest's. */
  networks?: VMNetworkAttachment[];
  /** Pin the VM to a hypervisor (stored as an annotation). */
  vmm?: 'qemu' | 'firecracker';
  /** What ignited does when the VM ends (stored as an annotation; default `no`). */
  restartPolicy?: RestartPolicy;
  /** A snapshot to clone: the VM's disk goes over the snapshot's, and its first start resumes it. */
  fromSnapshot?: string;
  /** Where in a fleet it may run (`--on-host`, `--host-selector`, `--reschedule`). */
  placement?: VMPlacement;
  /**
   * Stored as one that should run (`status.desiredState`): `run`, which starts it next, so that
   * its start has nothing more to record.
   */
  toRun?: boolean;
}

export const VMM_ANNOTATION = 'ignite.weave.works/vmm';

/**
 * Merges flags over a manifest into the VM to create. A conflict that cannot be resolved is an
 * error: the image given both as the argument and in the manifest, differently, or a host port
 * mapped twice.
 */
export function buildVM(options: CreateVMOptions, defaults?: Readonly<VMDefaults>): DefaultedVM {
  return setVMDefaults(vmManifest(options, defaults), defaults);
}

/**
 * The manifest `buildVM` defaults: the flags merged over `options.manifest`, checked, without the
 * defaults, which the host that creates the VM applies (a client of the daemon sends this).
 * `defaults` gives only the kernel image of a VM whose flags name kernel arguments and no kernel.
 */
export function vmManifest(options: CreateVMOptions, defaults?: Readonly<VMDefaults>): VM {
  const m = options.manifest;
  const manifestImage = m?.spec.image.ociClaim.ref;
  if (
    options.image !== undefined &&
    manifestImage !== undefined &&
    !sameImage(options.image, manifestImage)
  ) {
    throw invalidArgument(
      `image "${options.image}": the manifest asks for "${manifestImage}"; give one or the other`,
    );
  }
  const image = options.image ?? manifestImage;
  if (image === undefined)
    throw invalidArgument('create: an image is required (an argument, or spec.image in --config)');

  const base: VM = m ?? {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: {},
    spec: { image: { ociClaim: { ref: image } } },
  };
  const spec = { ...base.spec, image: { ociClaim: { ...base.spec.image.ociClaim, ref: image } } };
  if (options.cpus !== undefined) spec.cpus = options.cpus;
  if (options.memory !== undefined) spec.memory = options.memory;
  if (options.diskSize !== undefined) spec.diskSize = options.diskSize;
  if (options.logMaxSize !== undefined) spec.logMaxSize = options.logMaxSize;
  if (options.kernelImage !== undefined || options.kernelArgs !== undefined) {
    const k = spec.kernel;
    const ref = options.kernelImage ?? k?.ociClaim.ref ?? defaults?.kernelImage;
    spec.kernel = {
      ociClaim: { ...(k?.ociClaim.type ? { type: k.ociClaim.type } : {}), ref: ref ?? '' },
      ...(options.kernelArgs !== undefined
        ? { cmdLine: options.kernelArgs }
        : k?.cmdLine !== undefined
          ? { cmdLine: k.cmdLine }
          : {}),
    };
    if (spec.kernel.ociClaim.ref === '') delete spec.kernel;
  }
  if (options.ssh !== undefined) spec.ssh = options.ssh;
  if (options.copyFiles?.length) spec.copyFiles = [...(spec.copyFiles ?? []), ...options.copyFiles];
  if (options.ports?.length || options.networkMode !== undefined) {
    spec.network = {
      ...spec.network,
      ...(options.networkMode !== undefined ? { mode: options.networkMode } : {}),
      ...(options.ports?.length
        ? { ports: [...(spec.network?.ports ?? []), ...options.ports] }
        : {}),
    };
  }
  if (options.placement !== undefined)
    spec.placement = mergePlacement(spec.placement, options.placement);
  if (options.networks?.length) spec.network = { ...spec.network, networks: options.networks };
  checkNetworks(spec.network);
  checkPortConflicts(spec.network?.ports ?? []);
  const storage = mergeStorage(spec.storage, options.storage);
  if (storage !== undefined) spec.storage = storage;
  const vmName = options.name ?? base.metadata.name;
  checkStorage(spec.storage, vmName ? `vm "${vmName}"` : 'vm');
  const guestPaths = new Set<string>();
  for (const f of spec.copyFiles ?? []) {
    if (guestPaths.has(f.vmPath))
      throw invalidArgument(`--copy-files: ${f.vmPath} is written twice`);
    guestPaths.add(f.vmPath);
  }

  const metadata = { ...base.metadata };
  if (options.uid !== undefined) metadata.uid = options.uid;
  if (options.name !== undefined) metadata.name = options.name;
  // Checked before anything is pulled or started: the name becomes part of paths and host names.
  if (metadata.name !== undefined && metadata.name !== '') validateVMName(metadata.name);
  if (options.labels && Object.keys(options.labels).length > 0)
    metadata.labels = { ...metadata.labels, ...options.labels };
  if (options.vmm !== undefined)
    metadata.annotations = { ...metadata.annotations, [VMM_ANNOTATION]: options.vmm };
  if (options.restartPolicy !== undefined) {
    const policy = formatRestartPolicy(options.restartPolicy);
    metadata.annotations = { ...metadata.annotations, [RESTART_POLICY_ANNOTATION]: policy };
  }
  // A manifest's policy is checked here, before anything is pulled or stored.
  restartPolicyOf({ metadata });
  // The desired state of a manifest is for gitops; a created VM starts out Created.
  return { apiVersion: API_VERSION, kind: 'VM', metadata, spec, status: { state: 'Created' } };
}

/** The flags' placement over the manifest's: selector labels add up, the rest is replaced. */
function mergePlacement(base: VMPlacement | undefined, flags: VMPlacement): VMPlacement {
  const hostSelector = { ...base?.hostSelector, ...flags.hostSelector };
  return {
    ...base,
    ...flags,
    ...(Object.keys(hostSelector).length > 0 ? { hostSelector } : {}),
  };
}

/** Whether two references name the same image once normalized (`busybox` is `busybox:latest`). */
function sameImage(a: string, b: string): boolean {
  try {
    return normalizeImageRef(a) === normalizeImageRef(b);
  } catch {
    return a === b;
  }
}

/** Checks a VM name: it becomes part of paths and host names, so it is kept simple. */
export function validateVMName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw invalidArgument(
      `vm name "${name}": use 1-63 lower-case letters, digits, '.', '_' or '-', starting and ending with a letter or digit`,
    );
  }
}

/** Named networks: each once, and not with mode `none`. */
function checkNetworks(network: VM['spec']['network']): void {
  const names = (network?.networks ?? []).map((n) => n.name);
  if (names.length > 0 && network?.mode === 'none')
    throw invalidArgument(`--network ${names.join(', ')}: the VM's network mode is "none"`);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw invalidArgument(`--network ${dup}: given twice`);
}
