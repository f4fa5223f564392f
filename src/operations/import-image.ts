import { copyFile, link, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  API_VERSION,
  Size,
  formatImageRef,
  parseImageRef,
  type Image,
  type Kernel,
  type KindMap,
  type ParsedImageRef,
} from '../api/index.js';
import { AppError, failedPrecondition, invalidArgument } from '../errors.js';
import {
  extractVmlinux,
  kernelVersion,
  layerFilesToExt4,
  localSourceDir,
  pullKernelFiles,
  pullToExt4,
  readLocalImage,
  type ImportLimits,
  type PullProgress,
  type RegistryClient,
} from '../image/index.js';
import { isProcessAlive } from '../system/process.js';
import type { OperationDeps } from './deps.js';

export interface ImportDeps extends OperationDeps {
  registry: RegistryClient;
  /** Bounds on what one image may unpack to. */
  limits: ImportLimits;
}

export interface ImportOptions {
  progress?: PullProgress;
}

function parseRef(ref: string): ParsedImageRef {
  try {
    return parseImageRef(ref);
  } catch (err) {
    throw invalidArgument(`image "${ref}": ${(err as Error).message}`);
  }
}

const stagingBase = (deps: OperationDeps) => join(deps.dataDir, '.staging');

/**
 * A private working directory under `<dataDir>/.staging`, named after this process so a later
 * run can tell an abandoned one (its process is gone) and remove it.
 */
async function staging<T>(deps: OperationDeps, fn: (dir: string) => Promise<T>): Promise<T> {
  const base = stagingBase(deps);
  await mkdir(base, { recursive: true, mode: 0o700 });
  const dir = join(base, `${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(dir, { mode: 0o700 });
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Removes the working directories of imports whose process is gone. Every import runs it, also
 * one that finds its image already there: an import killed after storing its image, while it
 * cleaned up, left its directory, and its retry takes that path.
 */
async function sweepStaging(deps: OperationDeps): Promise<void> {
  const base = stagingBase(deps);
  for (const name of await readdir(base).catch((): string[] => [])) {
    const pid = Number(name.split('-')[0]);
    if (!isProcessAlive(pid)) await rm(join(base, name), { recursive: true, force: true });
  }
}

/** Moves a file into an object's directory, creating it. */
async function place(src: string, dir: string, name: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await rename(src, join(dir, name));
}

/**
 * Imports an OCI image as a base image: its layers stream from the registry, each verified, into
 * `image.ext4`, which is stored only once every digest has checked out. Importing a
 * reference that is already imported does nothing; an image whose content (config digest) is
 * already stored under another name shares that ext4 file instead of building it again.
 */
export async function importImage(
  deps: ImportDeps,
  refText: string,
  options: ImportOptions = {},
): Promise<Image> {
  const ref = parseRef(refText);
  const name = formatImageRef(ref);
  await sweepStaging(deps);
  const existing = await alreadyImported(deps, 'Image', name);
  if (existing) return existing;
  return staging(deps, async (work) => {
    const images = await deps.client.images.list();
    const ext4 = join(work, 'image.ext4');
    const pulled = await pullToExt4({
      client: deps.registry,
      ref,
      dest: ext4,
      limits: deps.limits,
      ...(options.progress ? { progress: options.progress } : {}),
      skipIf: (config) => images.some((i) => i.status?.ociSource?.id === config),
    });
    const same = images.find((i) => i.status?.ociSource?.id === pulled.configDigest);
    let size: number;
    if ('skipped' in pulled) {
      const dir =
        same?.metadata.uid !== undefined
          ? deps.client.images.objectDir(same.metadata.uid)
          : undefined;
      if (!same || dir === undefined)
        throw failedPrecondition(`image "${name}": content vanished during import`);
      await link(join(dir, 'image.ext4'), ext4).catch(() =>
        copyFile(join(dir, 'image.ext4'), ext4),
      );
      size = same.status?.ociSource?.size?.bytes ?? 0;
    } else {
      size = pulled.filesystem.contentBytes;
    }
    const image: Image = {
      apiVersion: API_VERSION,
      kind: 'Image',
      metadata: { name },
      spec: { ociClaim: { type: 'Docker', ref: name } },
      status: {
        ociSource: {
          id: pulled.configDigest,
          size: Size.fromBytes(size),
          repoDigests: [`${ref.domain}/${ref.path}@${pulled.manifestDigest}`],
        },
      },
    };
    return storeWithFiles(deps, 'Image', image, [[ext4, 'image.ext4']], options);
  });
}

/** The image or kernel already stored under `name`, if any: importing it again does nothing. */
async function alreadyImported<K extends 'Image' | 'Kernel'>(
  deps: OperationDeps,
  kind: K,
  name: string,
): Promise<KindMap[K] | undefined> {
  const existing = await deps.client.of(kind).findByName(name);
  if (existing)
    deps.logger.info(
      { [kind.toLowerCase()]: name },
      `${kind.toLowerCase()} "${name}": already imported`,
    );
  return existing;
}

/**
 * Creates the object, moves its files into its directory, and removes the object again if that
 * fails. A concurrent import of the same name wins: its object is returned.
 */
async function storeWithFiles<T extends Image | Kernel>(
  deps: OperationDeps,
  kind: T['kind'],
  obj: T,
  files: [string, string][],
  options: ImportOptions,
): Promise<T> {
  const kc = kind === 'Image' ? deps.client.images : deps.client.kernels;
  let created: T;
  try {
    created = (await kc.create(obj as never)) as T;
  } catch (err) {
    if (AppError.is(err, 'AlreadyExists'))
      return (await kc.findByName(obj.metadata.name ?? '')) as T;
    throw err;
  }
  const uid = created.metadata.uid ?? '';
  try {
    const dir = kc.objectDir(uid);
    if (dir === undefined)
      throw failedPrecondition(
        `${kind.toLowerCase()} "${obj.metadata.name ?? ''}": storage has no directory`,
      );
    for (const [src, name] of files) await place(src, dir, name);
    if (created.kind === 'Image') {
      const ext4Path = join(dir, 'image.ext4');
      await deps.client.images.update(
        uid,
        (img) => void (img.status = { ...img.status, ext4Path }),
      );
      created.status = { ...created.status, ext4Path };
    }
  } catch (err) {
    await kc.delete(uid).catch(() => undefined);
    throw err;
  }
  options.progress?.phase?.('done');
  deps.logger.info(
    { [kind.toLowerCase()]: obj.metadata.name, uid },
    `Imported ${kind.toLowerCase()} "${obj.metadata.name ?? ''}" as ${uid}`,
  );
  return created;
}

/**
 * Imports a kernel image: pulls it, finds `/boot/vmlinux` (or extracts it from a bzImage) and an
 * initrd, and records the kernel's release. Files: `<dataDir>/kernel/<uid>/vmlinux`, `initrd`.
 */
export async function importKernel(
  deps: ImportDeps,
  refText: string,
  options: ImportOptions = {},
): Promise<Kernel> {
  const ref = parseRef(refText);
  const name = formatImageRef(ref);
  await sweepStaging(deps);
  const existing = await alreadyImported(deps, 'Kernel', name);
  if (existing) return existing;
  const label = `kernel "${name}"`;
  return staging(deps, async (work) => {
    const pulled = await pullKernelFiles({
      client: deps.registry,
      ref,
      workDir: work,
      label,
      limits: deps.limits,
      ...(options.progress ? { progress: options.progress } : {}),
    });
    const vmlinux = join(work, 'vmlinux');
    if (pulled.kernel.kind === 'bzImage') {
      await extractVmlinux(pulled.kernel.path, vmlinux, label, { shownAs: pulled.kernel.name });
      await rm(pulled.kernel.path, { force: true });
    }
    const files: [string, string][] = [[vmlinux, 'vmlinux']];
    if (pulled.initrd !== undefined) files.push([pulled.initrd, 'initrd']);
    const version = await kernelVersion(vmlinux);
    const { size } = await stat(vmlinux);
    const kernel: Kernel = {
      apiVersion: API_VERSION,
      kind: 'Kernel',
      metadata: { name },
      spec: { ociClaim: { type: 'Docker', ref: name } },
      status: {
        version,
        ociSource: {
          id: pulled.configDigest,
          size: Size.fromBytes(size),
          repoDigests: [`${ref.domain}/${ref.path}@${pulled.manifestDigest}`],
        },
      },
    };
    return storeWithFiles(deps, 'Kernel', kernel, files, options);
  });
}

/** Removes an image or kernel; refuses one that a VM uses, unless forced (then those VMs go too). */
export async function removeImageOrKernel(
  deps: OperationDeps,
  kind: 'Image' | 'Kernel',
  query: string,
  options: { force: boolean; removeVM: (uid: string) => Promise<unknown> },
): Promise<string> {
  const kc = kind === 'Image' ? deps.client.images : deps.client.kernels;
  const obj = await kc.find(query);
  const name = obj.metadata.name ?? '';
  const users = (await deps.client.vms.list()).filter((vm) =>
    kind === 'Image' ? vm.spec.image.ociClaim.ref === name : vm.spec.kernel?.ociClaim.ref === name,
  );
  if (users.length > 0 && !options.force) {
    throw failedPrecondition(
      `${kind.toLowerCase()} "${name}": in use by VM ${users.map((v) => `"${v.metadata.name ?? ''}"`).join(', ')}`,
      { hint: 'remove those VMs first, or use -f to remove them too' },
    );
  }
  for (const vm of users) await options.removeVM(vm.metadata.uid ?? '');
  await kc.delete(obj.metadata.uid ?? '');
  return obj.metadata.uid ?? '';
}

/** Whether an import argument names a file or directory rather than a registry reference. */
export async function isLocalSource(arg: string): Promise<boolean> {
  if (!/^(\/|\.\/|\.\.\/)/.test(arg) && !arg.endsWith('.tar')) return false;
  return lstat(arg).then(
    () => true,
    () => false,
  );
}

/**
 * Imports an image from a `docker save` tarball or an OCI image layout (a directory or a tar of
 * one). The image is named by the archive (RepoTags, or the layout's ref.name annotation) unless
 * `name` is given.
 */
export async function importImageFromFile(
  deps: OperationDeps & { limits: ImportLimits },
  path: string,
  options: ImportOptions & { name?: string } = {},
): Promise<Image> {
  const label = `image archive "${path}"`;
  await sweepStaging(deps);
  return staging(deps, async (work) => {
    const dir = await localSourceDir(path, join(work, 'archive'), label);
    const local = await readLocalImage(dir, label);
    const nameText = options.name ?? local.name;
    if (nameText === undefined)
      throw invalidArgument(`${label}: it names no image; give one with --name`);
    const name = formatImageRef(
      parseRef(
        nameText.includes('/') || nameText.includes(':') ? nameText : `localhost/${nameText}`,
      ),
    );
    const existing = await alreadyImported(deps, 'Image', name);
    if (existing) return existing;
    options.progress?.phase?.('unpacking');
    const ext4 = join(work, 'image.ext4');
    const { contentBytes: bytes } = await layerFilesToExt4({
      layers: local.layers,
      dest: ext4,
      label,
      volumeLabel: 'rootfs',
      limits: deps.limits,
    });
    const image: Image = {
      apiVersion: API_VERSION,
      kind: 'Image',
      metadata: { name },
      spec: { ociClaim: { type: 'Docker', ref: name } },
      status: {
        ociSource: {
          id: local.configDigest,
          size: Size.fromBytes(bytes),
        },
      },
    };
    return storeWithFiles(deps, 'Image', image, [[ext4, 'image.ext4']], options);
  });
}
