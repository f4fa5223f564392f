import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';

/** A tar entry for a crafted layer: a header and, for a regular file, its bytes. */
export type LayerEntry = [Partial<Header> & { name: string }, (Buffer | string)?];

export const sha256 = (b: Buffer): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A tar of the entries, as tar-stream writes it. */
export async function tarOf(entries: readonly LayerEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(c as Buffer);
  })();
  for (const [h, body] of entries) {
    if (body === undefined) p.entry(h);
    else p.entry(h, body);
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

async function putBlob(host: string, repo: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status}`);
  const loc = new URL(start.headers.get('location') ?? '', `http://${host}`);
  loc.searchParams.set('digest', digest);
  const put = await fetch(loc, {
    method: 'PUT',
    body: blob,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

/**
 * Pushes an image made of crafted layers (each a list of tar entries, gzipped) to a real
 * registry through the distribution API, as a Docker schema 2 manifest.
 */
export async function pushCraftedImage(
  host: string,
  repo: string,
  tag: string,
  layers: readonly (readonly LayerEntry[])[],
): Promise<void> {
  await pushLayerTars(host, repo, tag, await Promise.all(layers.map((l) => tarOf(l))));
}

/** Pushes an image whose layers are the given tarballs (gzipped here), as pushCraftedImage. */
export async function pushLayerTars(
  host: string,
  repo: string,
  tag: string,
  tars: readonly Buffer[],
): Promise<void> {
  const gz = tars.map((t) => gzipSync(t));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: tars.map(sha256) },
      config: {},
    }),
  );
  const configDigest = await putBlob(host, repo, config);
  const layerDescs = [];
  for (const g of gz)
    layerDescs.push({
      mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
      size: g.length,
      digest: await putBlob(host, repo, g),
    });
  const mediaType = 'application/vnd.docker.distribution.manifest.v2+json';
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType,
    config: {
      mediaType: 'application/vnd.docker.container.image.v1+json',
      size: config.length,
      digest: configDigest,
    },
    layers: layerDescs,
  });
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': mediaType },
  });
  if (res.status !== 201) throw new Error(`manifest push: HTTP ${res.status} ${await res.text()}`);
}
