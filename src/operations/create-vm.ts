import { access, readFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import {
  API_VERSION,
  NAME_PATTERN,
  normalizeImageRef,
  setVMDefaults,
  type FileMapping,
  type Image,
  type Kernel,
  type NetworkMode,
  type PortMapping,
  type Size,
  type VM,
  type VMDefaults,
} from '../api/index.js';
import { AppError, invalidArgument, toAppError } from '../errors.js';
import type { OperationDeps } from './deps.js';
import { checkHostPortsFree, type HostPortCheckDeps } from './host-port-check.js';
import { uniqueRandomName } from './names.js';
import { checkPortConflicts } from './vm-options.js';
import { requireRootForNetwork, vmLabel } from './vm-paths.js';

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
  labels?: Record<string, string>;
  networkMode?: NetworkMode;
  /** Pin the VM to a hypervisor (stored as an annotation). */
  vmm?: 'qemu' | 'firecracker';
}

export const VMM_ANNOTATION = 'ignite.weave.works/vmm';

/**
 * Merges flags over a manifest into the VM to create. A conflict that cannot be resolved is an
 * error: the image given both as the argument and in the manifest, differently, or a host port
 * mapped twice.
 */
export function buildVM(options: CreateVMOptions, defaults?: Readonly<VMDefaults>): VM {
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
  checkPortConflicts(spec.network?.ports ?? []);
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
  // The desired state of a manifest is for gitops; a created VM starts out Created.
  const vm: VM = {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata,
    spec,
    status: { state: 'Created' },
  };
  return setVMDefaults(vm, defaults);
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

/** Reads `--config <file|->`: a VM manifest in YAML or JSON. */
export async function readManifestFile(
  path: string,
  stdin: NodeJS.ReadableStream,
): Promise<string> {
  if (path !== '-') {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      throw invalidArgument(`--config ${path}: ${toAppError(err).message}`, { cause: err });
    }
  }
  const chunks: Buffer[] = [];
  for await (const c of stdin) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}

/** Picks the name: the given one (checked), or a random one not taken. */
export async function chooseName(deps: Pick<OperationDeps, 'client'>, vm: VM): Promise<string> {
  if (vm.metadata.name) {
    validateVMName(vm.metadata.name);
    return vm.metadata.name;
  }
  const taken = new Set((await deps.client.vms.list()).map((v) => v.metadata.name ?? ''));
  return uniqueRandomName(taken);
}

export { vmLabel };

/** What creating a VM needs beyond storage: its image and kernel (imported on demand) and its disk. */
export interface CreateVMDeps extends OperationDeps, HostPortCheckDeps {
  /** Finds the image by reference, importing it when absent; returns it with its ext4 path. */
  ensureImage(ref: string): Promise<{ image: Image; ext4Path: string }>;
  /** Finds the kernel by reference, importing it when absent. */
  ensureKernel(ref: string): Promise<Kernel>;
  /** Builds the VM's root disk in its directory and writes the VM's files into it. */
  createRootDisk(req: RootDiskRequest): Promise<void>;
  /** Generates the VM's SSH key pair; returns the public key. */
  generateSSHKey(vmDir: string, uid: string): Promise<string>;
  /** The hypervisor for a new VM, from the flag, the host setting, or what is installed. */
  pickVMM(wanted?: string): Promise<'qemu' | 'firecracker'>;
  vmDefaults?: Readonly<VMDefaults>;
}

export interface RootDiskRequest {
  vm: VM;
  imagePath: string;
  vmDir: string;
  format: 'qcow2' | 'raw';
  sizeBytes: number;
  hostname: string;
  authorizedKeys: string[];
  copyFiles: FileMapping[];
}

/**
 * Creates a VM: merges flags over the manifest, imports its image and kernel when needed, stores
 * it, and builds its root disk. If anything fails after the VM was stored, the VM and its
 * directory are removed again, so a failed create leaves nothing behind.
 */
export async function createVM(deps: CreateVMDeps, options: CreateVMOptions): Promise<VM> {
  const vm = buildVM(options, deps.vmDefaults);
  requireRootForNetwork(vm, process.getuid?.() === 0);
  const vmm = await deps.pickVMM(options.vmm ?? vm.metadata.annotations?.[VMM_ANNOTATION]);
  vm.metadata.annotations = { ...vm.metadata.annotations, [VMM_ANNOTATION]: vmm };
  const authorizedKeys: string[] = [];
  if (typeof vm.spec.ssh === 'string') authorizedKeys.push(await readPublicKey(vm.spec.ssh));
  for (const f of vm.spec.copyFiles ?? []) await assertReadable(f.hostPath);
  await checkHostPortsFree(deps, vm);

  const [{ image, ext4Path }, kernel] = await Promise.all([
    deps.ensureImage(vm.spec.image.ociClaim.ref),
    deps.ensureKernel(vm.spec.kernel?.ociClaim.ref ?? ''),
  ]);
  vm.status = {
    state: 'Created',
    ...(image.status?.ociSource ? { image: image.status.ociSource } : {}),
    ...(kernel.status?.ociSource ? { kernel: kernel.status.ociSource } : {}),
  };

  // Uniqueness is checked under the store's lock, in create(); a generated name that another
  // create took meanwhile is simply generated again.
  const generated = !vm.metadata.name;
  let created: VM | undefined;
  for (let attempt = 0; created === undefined; attempt++) {
    vm.metadata.name = generated
      ? await chooseName(deps, { ...vm, metadata: { ...vm.metadata, name: '' } })
      : await chooseName(deps, vm);
    try {
      created = await deps.client.vms.create(vm);
    } catch (err) {
      if (!(generated && AppError.is(err, 'AlreadyExists') && attempt < 10)) throw err;
    }
  }
  const uid = created.metadata.uid ?? '';
  const label = vmLabel(created);
  try {
    await checkHostPortsFree(deps, created, { afterStore: true });
    await deps.reserveVMNetwork(created);
    const vmDir = deps.client.vms.objectDir(uid);
    if (vmDir === undefined) throw invalidArgument(`${label}: storage has no directory for it`);
    if (vm.spec.ssh === true) authorizedKeys.push(await deps.generateSSHKey(vmDir, uid));
    const imageBytes = image.status?.ociSource?.size?.bytes ?? 0;
    let size = vm.spec.diskSize?.bytes ?? 0;
    if (size < imageBytes) {
      deps.logger.warn(
        { vm: created.metadata.name },
        `${label}: disk size raised to the image's size`,
      );
      size = imageBytes;
    }
    await deps.createRootDisk({
      vm: created,
      imagePath: ext4Path,
      vmDir,
      format: vmm === 'firecracker' ? 'raw' : 'qcow2',
      sizeBytes: size,
      hostname: created.metadata.name ?? uid,
      authorizedKeys,
      copyFiles: vm.spec.copyFiles ?? [],
    });
  } catch (err) {
    await deps.releaseVMNetwork(created).catch(() => undefined);
    await deps.client.vms.delete(uid).catch(() => undefined);
    throw err;
  }
  deps.logger.info(
    { vm: created.metadata.name, uid },
    `Created VM with ID "${uid}" and name "${created.metadata.name ?? ''}"`,
  );
  return created;
}

async function readPublicKey(path: string): Promise<string> {
  const file = path.endsWith('.pub') ? path : `${path}.pub`;
  try {
    const key = (await readFile(file, 'utf8')).trim();
    if (!/^(ssh-|ecdsa-|sk-)/.test(key))
      throw invalidArgument(`--ssh ${file}: not an SSH public key`);
    return key;
  } catch (err) {
    if (AppError.is(err)) throw err;
    throw invalidArgument(`--ssh ${file}: cannot read the public key: ${toAppError(err).message}`, {
      cause: err,
    });
  }
}

async function assertReadable(path: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch {
    throw invalidArgument(`--copy-files: ${path}: not found on the host or not readable`);
  }
}
