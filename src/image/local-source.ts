import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { invalidArgument, notFound } from '../errors.js';
import { applyLayer } from './layer-unpacker.js';
import { pickPlatform, sha256, type Descriptor } from './registry-client.js';

/**
 * Images from files instead of a registry: an OCI image layout (a directory, or a tar of one) or
 * a `docker save` tarball. Every blob is checked against its digest before it is used.
 */
export interface LocalImage {
  /** The reference the file names the image by, when it does (RepoTags, ref.name annotation). */
  name?: string;
  manifestDigest: string;
  configDigest: string;
  /** Layer files, in order, each verified. */
  layers: { digest: string; file: string }[];
}

async function fileDigest(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return `sha256:${h.digest('hex')}`;
}

/** A path inside `dir` named by an archive: no escapes. */
function inside(dir: string, rel: string, label: string): string {
  const norm = posix.normalize(rel);
  if (norm.startsWith('../') || norm === '..' || posix.isAbsolute(norm))
    throw invalidArgument(`${label}: path "${rel}" leaves the archive`);
  return join(dir, norm);
}

function blobPath(dir: string, digest: string, label: string): string {
  const m = /^(sha256):([a-f0-9]{64})$/.exec(digest);
  if (!m) throw invalidArgument(`${label}: unsupported digest ${digest}`);
  return join(dir, 'blobs', m[1] ?? '', m[2] ?? '');
}

async function verifiedBlob(dir: string, digest: string, label: string): Promise<string> {
  const p = blobPath(dir, digest, label);
  const got = await fileDigest(p).catch(() => {
    throw notFound(`${label}: blob ${digest} is missing`);
  });
  if (got !== digest)
    throw invalidArgument(`${label}: digest mismatch for blob ${digest} (got ${got})`);
  return p;
}

/** Unpacks a tar (an OCI layout or a docker save) into `dest`, safely, for reading. */
export async function untarArchive(tarFile: string, dest: string, label: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  await applyLayer(dest, tarFile, { label, digest: 'archive', privileged: false });
}

/** Reads an image from an unpacked OCI layout or docker save directory. */
export async function readLocalImage(
  dir: string,
  label: string,
  wantedTag?: string,
): Promise<LocalImage> {
  if (
    await lstat(join(dir, 'oci-layout')).then(
      () => true,
      () => false,
    )
  )
    return readOCILayout(dir, label, wantedTag);
  if (
    await lstat(join(dir, 'manifest.json')).then(
      () => true,
      () => false,
    )
  )
    return readDockerSave(dir, label);
  throw invalidArgument(
    `${label}: neither an OCI image layout (oci-layout, index.json) nor a docker save archive (manifest.json)`,
  );
}

async function readOCILayout(dir: string, label: string, wantedTag?: string): Promise<LocalImage> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests?: (Descriptor & { annotations?: Record<string, string> })[];
  };
  const entries = index.manifests ?? [];
  const REF = 'org.opencontainers.image.ref.name';
  const desc: (Descriptor & { annotations?: Record<string, string> }) | undefined =
    wantedTag !== undefined
      ? entries.find((m) => m.annotations?.[REF] === wantedTag)
      : entries.length === 1
        ? entries[0]
        : (pickPlatform(entries) ?? entries[0]);
  if (desc === undefined)
    throw notFound(`${label}: no image${wantedTag ? ` tagged "${wantedTag}"` : ''} in the layout`);
  const name = desc.annotations?.[REF];
  let manifestBytes = await readFile(await verifiedBlob(dir, desc.digest, label));
  let manifestDigest = desc.digest;
  let doc = JSON.parse(manifestBytes.toString()) as {
    manifests?: Descriptor[];
    config?: Descriptor;
    layers?: Descriptor[];
  };
  if (Array.isArray(doc.manifests)) {
    const sub = pickPlatform(doc.manifests);
    if (!sub) throw notFound(`${label}: no linux/amd64 image in the layout's index`);
    manifestBytes = await readFile(await verifiedBlob(dir, sub.digest, label));
    manifestDigest = sub.digest;
    doc = JSON.parse(manifestBytes.toString()) as typeof doc;
  }
  if (!doc.config || !doc.layers)
    throw invalidArgument(`${label}: the manifest has no config or layers`);
  await verifiedBlob(dir, doc.config.digest, label);
  const layers: LocalImage['layers'] = [];
  for (const l of doc.layers)
    layers.push({ digest: l.digest, file: await verifiedBlob(dir, l.digest, label) });
  return {
    ...(name !== undefined ? { name } : {}),
    manifestDigest,
    configDigest: doc.config.digest,
    layers,
  };
}

async function readDockerSave(dir: string, label: string): Promise<LocalImage> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as {
    Config: string;
    RepoTags?: string[] | null;
    Layers: string[];
  }[];
  const entry = manifest[0];
  if (!entry) throw invalidArgument(`${label}: manifest.json lists no image`);
  const configFile = inside(dir, entry.Config, label);
  const configBytes = await readFile(configFile);
  const configDigest = `sha256:${sha256(configBytes)}`;
  // Newer docker save names the config by its digest: check it where it does.
  const named = /([a-f0-9]{64})(\.json)?$/.exec(entry.Config)?.[1];
  if (named !== undefined && `sha256:${named}` !== configDigest)
    throw invalidArgument(`${label}: digest mismatch for config ${entry.Config}`);
  const config = JSON.parse(configBytes.toString()) as { rootfs?: { diff_ids?: string[] } };
  const diffIds = config.rootfs?.diff_ids ?? [];
  if (diffIds.length !== entry.Layers.length)
    throw invalidArgument(
      `${label}: config lists ${diffIds.length} layers, manifest.json ${entry.Layers.length}`,
    );
  const layers: LocalImage['layers'] = [];
  for (const [i, rel] of entry.Layers.entries()) {
    const file = inside(dir, rel, label);
    const got = await fileDigest(file);
    // Layers in docker save are uncompressed, so their digests are the config's diff IDs.
    if (got !== diffIds[i])
      throw invalidArgument(
        `${label}: digest mismatch for layer ${rel} (config says ${diffIds[i] ?? '?'}, got ${got})`,
      );
    layers.push({ digest: got, file });
  }
  return {
    ...(entry.RepoTags?.[0] ? { name: entry.RepoTags[0] } : {}),
    manifestDigest: configDigest,
    configDigest,
    layers,
  };
}
