import { createReadStream } from 'node:fs';
import { formatImageRef, type ParsedImageRef } from '../api/index.js';
import { invalidArgument } from '../errors.js';
import { Ext4Writer, type WrittenFilesystem } from './ext4/index.js';
import type { ImportLimits } from './import-limits.js';
import { decompressed } from './layer-stream.js';
import type { Descriptor } from './oci-manifest.js';
import type { RegistryClient } from './registry-client.js';

/** Progress of a pull, for a progress bar: bytes per layer, then the later phases. */
export interface PullProgress {
  layer?(digest: string, total: number): void;
  bytes?(digest: string, n: number): void;
  phase?(name: 'unpacking' | 'building filesystem' | 'done'): void;
}

/** What a pull verified: the manifest and config it resolved, and the layers it read. */
export interface PulledImage {
  /** Digest of the image manifest (linux/amd64), as in `name@sha256:…`. */
  manifestDigest: string;
  /** Digest of the config blob: the image ID. */
  configDigest: string;
  config: { config?: { Labels?: Record<string, string> } };
  layers: Descriptor[];
}

export interface PulledExt4 extends PulledImage {
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
