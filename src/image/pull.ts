import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { formatImageRef, type ParsedImageRef } from '../api/index.js';
import { invalidArgument } from '../errors.js';
import { applyLayer } from './layer-unpacker.js';
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
