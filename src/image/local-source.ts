import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { AppError, invalidArgument, notFound } from '../errors.js';
import { applyLayer } from './layer-unpacker.js';
import { pickPlatform, sha256, type Descriptor } from './oci-manifest.js';

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

/** The JSON documents of a layout or docker save are small; a larger one is not read. */
const MAX_JSON_BYTES = 4 * 1024 * 1024;

/** A relative path inside an archive: no escapes. */
function insideRel(rel: string, label: string): string {
  const norm = posix.normalize(rel);
  if (norm.startsWith('../') || norm === '..' || posix.isAbsolute(norm))
    throw invalidArgument(`${label}: path "${rel}" leaves the archive`);
  return norm;
}

/**
 * Opens a regular file inside `dir` for reading. Every directory on the way must be a real
 * directory and the file a regular file, opened with O_NOFOLLOW: a symlink in an archive never
 * leads a read out of it, and a FIFO or device is never opened.
 */
async function openInside(dir: string, rel: string, label: string): Promise<FileHandle> {
  const parts = insideRel(rel, label)
    .split('/')
    .filter((p) => p !== '' && p !== '.');
  let cur = dir;
  for (const [i, part] of parts.entries()) {
    cur = join(cur, part);
    const st = await lstat(cur).catch(() => undefined);
    const shown = parts.slice(0, i + 1).join('/');
    if (st === undefined) throw notFound(`${label}: ${shown} is missing`);
    const last = i === parts.length - 1;
    if (last ? !st.isFile() : !st.isDirectory())
      throw invalidArgument(
        `${label}: ${shown} is ${st.isSymbolicLink() ? 'a symlink' : 'not a regular ' + (last ? 'file' : 'directory')}; archives are read only through regular files and directories`,
      );
  }
  const fh = await open(cur, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  if (!(await fh.stat()).isFile()) {
    await fh.close();
    throw invalidArgument(`${label}: ${rel} is not a regular file`);
  }
  return fh;
}

/** Reads a JSON document of the archive; a parse error never shows its content. */
async function readJSON(
  dir: string,
  rel: string,
  label: string,
): Promise<{ bytes: Buffer; doc: unknown }> {
  const fh = await openInside(dir, rel, label);
  let bytes: Buffer;
  try {
    const { size } = await fh.stat();
    if (size > MAX_JSON_BYTES)
      throw invalidArgument(
        `${label}: ${rel} is too large (${size} bytes, at most ${MAX_JSON_BYTES})`,
      );
    bytes = await fh.readFile();
  } finally {
    await fh.close();
  }
  try {
    return { bytes, doc: JSON.parse(bytes.toString('utf8')) };
  } catch {
    throw invalidArgument(`${label}: ${rel} is not valid JSON`);
  }
}

async function fileDigest(dir: string, rel: string, label: string): Promise<string> {
  const fh = await openInside(dir, rel, label);
  const h = createHash('sha256');
  await pipeline(fh.createReadStream(), h);
  return `sha256:${h.digest('hex')}`;
}

function blobRel(digest: string, label: string): string {
  const m = /^(sha256):([a-f0-9]{64})$/.exec(digest);
  if (!m) throw invalidArgument(`${label}: unsupported digest ${digest}`);
  return `blobs/${m[1] ?? ''}/${m[2] ?? ''}`;
}

async function verifiedBlob(dir: string, digest: string, label: string): Promise<string> {
  const rel = blobRel(digest, label);
  const got = await fileDigest(dir, rel, label).catch((err: unknown) => {
    if (AppError.is(err, 'InvalidArgument')) throw err;
    throw notFound(`${label}: blob ${digest} is missing`);
  });
  if (got !== digest)
    throw invalidArgument(`${label}: digest mismatch for blob ${digest} (got ${got})`);
  return join(dir, rel);
}

/** Unpacks a tar (an OCI layout or a docker save) into `dest`, safely, for reading. */
export async function untarArchive(tarFile: string, dest: string, label: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  await applyLayer(dest, tarFile, { label, digest: 'archive', privileged: false });
}

/**
 * The directory to read an image from, for the path the user named: an archive is unpacked into
 * `dest`, a directory is read where it is. The path itself is the user's, so a symlink there is
 * followed to its target (a symlink to a tar is an archive); the rules for what is inside an
 * archive (openInside) do not bend for it.
 */
export async function localSourceDir(path: string, dest: string, label: string): Promise<string> {
  const st = await stat(path).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw notFound(`${label}: it does not exist, or is a symlink to nothing`, { cause: err });
  });
  if (st.isFile()) {
    await untarArchive(path, dest, label);
    return dest;
  }
  if (st.isDirectory()) return path;
  throw invalidArgument(
    `${label}: not a regular file or a directory; an image is imported from a tar archive or an OCI layout directory`,
  );
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
  const index = (await readJSON(dir, 'index.json', label)).doc as {
    manifests?: (Descriptor & { annotations?: Record<string, string> })[];
  } | null;
  const entries = Array.isArray(index?.manifests) ? index.manifests : [];
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
  type Doc = { manifests?: Descriptor[]; config?: Descriptor; layers?: Descriptor[] } | null;
  const manifestAt = async (digest: string): Promise<Doc> => {
    await verifiedBlob(dir, digest, label);
    return (await readJSON(dir, blobRel(digest, label), label)).doc as Doc;
  };
  let manifestDigest = desc.digest;
  let doc = await manifestAt(desc.digest);
  if (Array.isArray(doc?.manifests)) {
    const sub = pickPlatform(doc.manifests);
    if (!sub) throw notFound(`${label}: no linux/amd64 image in the layout's index`);
    manifestDigest = sub.digest;
    doc = await manifestAt(sub.digest);
  }
  if (!doc?.config || !Array.isArray(doc.layers))
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
  const manifest = (await readJSON(dir, 'manifest.json', label)).doc as
    { Config: string; RepoTags?: string[] | null; Layers: string[] }[] | null;
  const entry = Array.isArray(manifest) ? manifest[0] : undefined;
  if (!entry || typeof entry.Config !== 'string' || !Array.isArray(entry.Layers))
    throw invalidArgument(`${label}: manifest.json lists no image`);
  const { bytes: configBytes, doc: configDoc } = await readJSON(dir, entry.Config, label);
  const configDigest = `sha256:${sha256(configBytes)}`;
  // Newer docker save names the config by its digest: check it where it does.
  const named = /([a-f0-9]{64})(\.json)?$/.exec(entry.Config)?.[1];
  if (named !== undefined && `sha256:${named}` !== configDigest)
    throw invalidArgument(`${label}: digest mismatch for config ${entry.Config}`);
  const config = configDoc as { rootfs?: { diff_ids?: string[] } } | null;
  const diffIds = config?.rootfs?.diff_ids ?? [];
  if (diffIds.length !== entry.Layers.length)
    throw invalidArgument(
      `${label}: config lists ${diffIds.length} layers, manifest.json ${entry.Layers.length}`,
    );
  const layers: LocalImage['layers'] = [];
  for (const [i, rel] of entry.Layers.entries()) {
    const got = await fileDigest(dir, rel, label);
    // Layers in docker save are uncompressed, so their digests are the config's diff IDs.
    if (got !== diffIds[i])
      throw invalidArgument(
        `${label}: digest mismatch for layer ${rel} (config says ${diffIds[i] ?? '?'}, got ${got})`,
      );
    layers.push({ digest: got, file: join(dir, insideRel(rel, label)) });
  }
  return {
    ...(entry.RepoTags?.[0] ? { name: entry.RepoTags[0] } : {}),
    manifestDigest: configDigest,
    configDigest,
    layers,
  };
}
