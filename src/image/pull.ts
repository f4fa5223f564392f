import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { formatImageRef, type ParsedImageRef } from '../api/index.js';
import { invalidArgument } from '../errors.js';
import { Ext4Writer, type WrittenFilesystem } from './ext4/index.js';
import type { ImportLimits } from './import-limits.js';
import { applyLayer } from './layer-unpacker.js';
import { decompressed } from './layer-stream.js';
import type { Descriptor, RegistryClient } from './registry-client.js';

/** Progress of a pull, for a progress bar: bytes per layer, then the later phases. */
export interface PullProgress {
  layer?(digest: string, total: number): void;
  bytes?(digest: string, n: number): void;
  phase?(name: 'unpacking' | 'building filesystem' | 'done'): void;
}

export interface PulledImage {
  /** Digest of the image manifest (linux/amd64), as in `name@sha256:…`. */
  manifestDigest: string;
  /** Digest of the config blob: the image ID. */
  configDigest: string;
  config: { config?: { Labels?: Record<string, string> } };
  layers: Descriptor[];
  /** The unpacked root filesystem. */
  rootfs: string;
}

/**
 * Pulls an image into `workDir`: each layer is downloaded and verified first, then applied to
 * `workDir/rootfs` in order. The caller owns `workDir` and removes it.
 */
export async function pullToRootfs(options: {
  client: RegistryClient;
  ref: ParsedImageRef;
  workDir: string;
  privileged: boolean;
  progress?: PullProgress;
  /** Stop after resolving when this returns true for the config digest (already have it). */
  skipIf?: (configDigest: string, manifestDigest: string) => boolean | Promise<boolean>;
}): Promise<PulledImage | { skipped: true; configDigest: string; manifestDigest: string }> {
  const { client, ref, workDir, progress } = options;
  const label = `image "${formatImageRef(ref)}"`;
  const { manifest, digest } = await client.resolve(ref);
  if (options.skipIf && (await options.skipIf(manifest.config.digest, digest))) {
    return { skipped: true, configDigest: manifest.config.digest, manifestDigest: digest };
  }
  const configBytes = await client.blobBytes(ref, manifest.config);
  let config: PulledImage['config'];
  try {
    config = JSON.parse(configBytes.toString('utf8')) as PulledImage['config'];
  } catch {
    throw invalidArgument(`${label}: its config is not JSON`);
  }
  const blobs = join(workDir, 'blobs');
  const rootfs = join(workDir, 'rootfs');
  await mkdir(blobs, { recursive: true });
  await mkdir(rootfs, { recursive: true, mode: 0o755 });
  const files: string[] = [];
  for (const layer of manifest.layers) {
    if (!/^sha256:[a-f0-9]{64}$/.test(layer.digest))
      throw invalidArgument(`${label}: bad layer digest ${layer.digest}`);
    const file = join(blobs, layer.digest.slice('sha256:'.length));
    progress?.layer?.(layer.digest, layer.size);
    await client.downloadBlob(ref, layer, file, (n) => progress?.bytes?.(layer.digest, n));
    files.push(file);
  }
  progress?.phase?.('unpacking');
  for (const [i, file] of files.entries()) {
    await applyLayer(rootfs, file, {
      label,
      digest: manifest.layers[i]?.digest ?? '',
      privileged: options.privileged,
    });
    await rm(file, { force: true });
  }
  return {
    manifestDigest: digest,
    configDigest: manifest.config.digest,
    config,
    layers: manifest.layers,
    rootfs,
  };
}

export interface PulledExt4 extends Omit<PulledImage, 'rootfs'> {
  /** What the image file holds. */
  filesystem: WrittenFilesystem;
}

/**
 * Pulls an image straight into an ext4 image file at `dest`: each layer streams from the registry
 * through its digest check and decompression into the writer, one after the other, and nothing of
 * it touches the host's tree. The file is complete only when every layer was verified to its
 * end; on any failure it is removed.
 */
export async function pullToExt4(options: {
  client: RegistryClient;
  ref: ParsedImageRef;
  dest: string;
  limits: ImportLimits;
  progress?: PullProgress;
  skipIf?: (configDigest: string, manifestDigest: string) => boolean | Promise<boolean>;
}): Promise<PulledExt4 | { skipped: true; configDigest: string; manifestDigest: string }> {
  const { client, ref, progress } = options;
  const label = `image "${formatImageRef(ref)}"`;
  const { manifest, digest } = await client.resolve(ref);
  if (options.skipIf && (await options.skipIf(manifest.config.digest, digest))) {
    return { skipped: true, configDigest: manifest.config.digest, manifestDigest: digest };
  }
  const configBytes = await client.blobBytes(ref, manifest.config);
  let config: PulledImage['config'];
  try {
    config = JSON.parse(configBytes.toString('utf8')) as PulledImage['config'];
  } catch {
    throw invalidArgument(`${label}: its config is not JSON`);
  }
  for (const layer of manifest.layers) {
    if (!/^sha256:[a-f0-9]{64}$/.test(layer.digest))
      throw invalidArgument(`${label}: bad layer digest ${layer.digest}`);
    progress?.layer?.(layer.digest, layer.size);
  }
  const writer = new Ext4Writer({
    path: options.dest,
    volumeLabel: ref.path.split('/').pop() ?? 'rootfs',
    limits: options.limits,
  });
  try {
    progress?.phase?.('unpacking');
    for (const layer of manifest.layers) {
      const blob = await client.openBlob(ref, layer, (n) => progress?.bytes?.(layer.digest, n));
      await writer.addLayer(decompressed(blob), { label, digest: layer.digest });
    }
    progress?.phase?.('building filesystem');
    const filesystem = writer.finish();
    return {
      manifestDigest: digest,
      configDigest: manifest.config.digest,
      config,
      layers: manifest.layers,
      filesystem,
    };
  } catch (err) {
    writer.abort();
    throw err;
  }
}

/** Builds an ext4 image at `dest` from layer files that were verified already, in order. */
export async function layerFilesToExt4(options: {
  layers: { digest: string; file: string }[];
  dest: string;
  label: string;
  volumeLabel: string;
  limits: ImportLimits;
}): Promise<WrittenFilesystem> {
  const writer = new Ext4Writer({
    path: options.dest,
    volumeLabel: options.volumeLabel,
    limits: options.limits,
  });
  try {
    for (const l of options.layers) {
      const source = createReadStream(l.file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>;
      await writer.addLayer(decompressed(source), { label: options.label, digest: l.digest });
    }
    return writer.finish();
  } catch (err) {
    writer.abort();
    throw err;
  }
}
