import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors.js';

/** The manifest kinds the registry client asks for and understands. */
export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

/** The `Accept` header of a manifest request: every kind in MEDIA_TYPES. */
export const MANIFEST_ACCEPT = Object.values(MEDIA_TYPES).join(', ');
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** An image config is a small JSON document: a descriptor that says more is not believed. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface ImageManifest {
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** A manifest, manifest list or index as parsed, before any of it is checked. */
export interface ManifestDocument {
  mediaType?: string;
  manifests?: Descriptor[];
  config?: Descriptor;
  layers?: Descriptor[];
}

/**
 * Checks a descriptor a manifest names: a sha256 digest and a size that is a non-negative safe
 * integer. Sizes are compared with what is read, so a fractional, negative or huge one is a lie.
 */
export function checkDescriptor(desc: unknown, what: string, role: string): Descriptor {
  const d = desc as Partial<Descriptor> | null;
  if (typeof d !== 'object' || d === null)
    throw invalidArgument(`${what}: ${role}: not a descriptor`);
  if (typeof d.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(d.digest))
    throw invalidArgument(
      `${what}: ${role}: unsupported or malformed digest ${JSON.stringify(d.digest)}`,
    );
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0)
    throw invalidArgument(
      `${what}: ${role} ${d.digest}: size ${JSON.stringify(d.size)} is not a whole number of bytes from 0 to 2^53-1`,
    );
  return d as Descriptor;
}

/** Whether a document is a manifest list or index rather than an image manifest. */
export function isManifestList(doc: ManifestDocument, mediaType: string): boolean {
  return (
    mediaType === MEDIA_TYPES.ociIndex ||
    mediaType === MEDIA_TYPES.dockerList ||
    Array.isArray(doc.manifests)
  );
}

/**
 * An image manifest with its config and layer descriptors checked. `image` names the image in
 * messages; `mediaType` is what the registry said the document is.
 */
export function checkImageManifest(
  doc: ManifestDocument,
  image: string,
  mediaType: string,
): ImageManifest {
  if (doc.config === undefined || !Array.isArray(doc.layers)) {
    throw invalidArgument(
      `image "${image}": unsupported manifest (${mediaType || 'no media type'}); schema 1 manifests are not supported`,
    );
  }
  const config = checkDescriptor(doc.config, `image "${image}"`, 'config');
  if (config.size > MAX_CONFIG_BYTES)
    throw invalidArgument(
      `image "${image}": config ${config.digest} is ${config.size} bytes; at most ${MAX_CONFIG_BYTES} are accepted`,
    );
  const layers = doc.layers.map((l, i) => checkDescriptor(l, `image "${image}"`, `layer ${i}`));
  return { ...(doc.mediaType ? { mediaType: doc.mediaType } : {}), config, layers };
}

/** The linux/amd64 entry of a manifest list or OCI index. */
export function pickPlatform(manifests: readonly Descriptor[]): Descriptor | undefined {
  return (
    manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ??
    (manifests.length === 1 && manifests[0]?.platform === undefined ? manifests[0] : undefined)
  );
}

/** The hex sha256 of `data`, as a digest names it after `sha256:`. */
export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
