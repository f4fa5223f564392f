import { join } from 'node:path';
import { API_VERSION, Size, formatImageRef, type Image, type StoredImage } from '../api/index.js';
import { failedPrecondition, invalidArgument } from '../errors.js';
import { layerFilesToExt4, localSourceDir, pullToExt4, readLocalImage } from '../image/index.js';
import { IMAGE_EXT4 } from '../storage/layout.js';
import {
  importPrologue,
  limitsOf,
  parseRef,
  storeWithFiles,
  type ImportServices,
} from './import-common.js';
import { importKernel } from './import-kernel.js';
import type { ImportOptions, Imports } from './services.js';

export type { ImportOptions, ImportServices };
export { importKernel };

/** Imports through the registry: the `imports` port of Services. */
export function registryImports(s: ImportServices): Imports {
  return {
    image: (ref, options) => importImage(s, ref, options),
    kernel: (ref, options) => importKernel(s, ref, options),
  };
}

/**
 * Imports an OCI image as a base image: its layers stream from the registry, each verified, into
 * `image.ext4`, which is stored only once every digest has checked out. Importing a
 * reference that is already imported does nothing; an image whose content (config digest) is
 * already stored under another name shares that ext4 file instead of building it again.
 */
export async function importImage(
  s: ImportServices,
  refText: string,
  options: ImportOptions = {},
): Promise<StoredImage> {
  const ref = parseRef(refText);
  const name = formatImageRef(ref);
  const limits = limitsOf(s);
  const existing = await importPrologue(s, 'Image', name);
  if (existing) return existing;
  return s.importWorkspace.withDir(async (work) => {
    const images = await s.client.images.list();
    const ext4 = join(work, IMAGE_EXT4);
    const pulled = await pullToExt4({
      client: s.registry,
      ref,
      dest: ext4,
      limits,
      ...(options.progress ? { progress: options.progress } : {}),
      skipIf: (config) => images.some((i) => i.status?.ociSource?.id === config),
    });
    const same = images.find((i) => i.status?.ociSource?.id === pulled.configDigest);
    let size: number;
    if ('skipped' in pulled) {
      if (same?.metadata.uid === undefined)
        throw failedPrecondition(`image "${name}": content vanished during import`);
      await s.importWorkspace.share(s.layout.imageExt4(same.metadata.uid), ext4);
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
    return storeWithFiles(s, 'Image', image, work, [[ext4, IMAGE_EXT4]], options);
  });
}

/** Whether an import argument names a file or directory rather than a registry reference. */
export function isLocalSource(
  s: Pick<ImportServices, 'importWorkspace'>,
  arg: string,
): Promise<boolean> {
  return s.importWorkspace.isLocalSource(arg);
}

/**
 * Imports an image from a `docker save` tarball or an OCI image layout (a directory or a tar of
 * one). The image is named by the archive (RepoTags, or the layout's ref.name annotation) unless
 * `name` is given.
 */
export async function importImageFromFile(
  s: ImportServices,
  path: string,
  options: ImportOptions & { name?: string } = {},
): Promise<StoredImage> {
  const label = `image archive "${path}"`;
  await s.importWorkspace.sweep();
  const limits = limitsOf(s);
  return s.importWorkspace.withDir(async (work) => {
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
    const existing = await importPrologue(s, 'Image', name);
    if (existing) return existing;
    options.progress?.phase?.('unpacking');
    const ext4 = join(work, IMAGE_EXT4);
    const { contentBytes: bytes } = await layerFilesToExt4({
      layers: local.layers,
      dest: ext4,
      label,
      volumeLabel: 'rootfs',
      limits,
    });
    const image: Image = {
      apiVersion: API_VERSION,
      kind: 'Image',
      metadata: { name },
      spec: { ociClaim: { type: 'Docker', ref: name } },
      status: { ociSource: { id: local.configDigest, size: Size.fromBytes(bytes) } },
    };
    return storeWithFiles(s, 'Image', image, work, [[ext4, IMAGE_EXT4]], options);
  });
}
