import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { formatImageRef, type ParsedImageRef } from '../api/index.js';
import { AppError, invalidArgument, notFound, permissionDenied, unavailable } from '../errors.js';

/**
 * A client of the OCI distribution API (Docker Registry HTTP API v2): manifests and blobs, with
 * anonymous, Basic and Bearer-token auth. Every manifest and blob is checked against its digest.
 */
export const MEDIA_TYPES = {
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
} as const;

const ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerList,
  MEDIA_TYPES.dockerManifest,
].join(', ');
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** An image config is a small JSON document: a descriptor that says more is not believed. */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

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

export interface RegistryClientOptions {
  /** Hosts reached over plain HTTP though not on loopback (`--insecure-registry`). */
  insecureRegistries?: readonly string[];
  /** Where config.json with `auths` is (default ~/.docker). */
  dockerConfigDir?: string;
  /** Attempts for transient failures (connection errors, 5xx, 429). */
  attempts?: number;
  fetch?: typeof fetch;
}

export interface Credentials {
  username: string;
  password: string;
}

export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** `https://registry-1.docker.io` for Docker Hub, plain HTTP for loopback and listed hosts. */
  baseURL(domain: string): string {
    const host = domain === 'docker.io' ? 'registry-1.docker.io' : domain;
    const hostname = host.startsWith('[')
      ? host.slice(0, host.indexOf(']') + 1)
      : (host.split(':')[0] ?? host);
    const loopback =
      hostname === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]';
    const insecure = loopback || (this.options.insecureRegistries ?? []).includes(domain);
    return `${insecure ? 'http' : 'https'}://${host}`;
  }

  /**
   * Resolves a reference to the linux/amd64 image manifest, following a manifest list or index.
   * Returns the manifest, its digest (of the bytes the registry sent), and the raw bytes.
   */
  async resolve(
    ref: ParsedImageRef,
  ): Promise<{ manifest: ImageManifest; digest: string; bytes: Buffer }> {
    const what = formatImageRef(ref);
    let { bytes, digest, mediaType } = await this.getManifest(
      ref,
      ref.digest ?? ref.tag ?? 'latest',
      what,
    );
    if (ref.digest !== undefined && digest !== ref.digest) {
      throw invalidArgument(`image "${what}": manifest digest mismatch: got ${digest}`);
    }
    let doc = parseJSON(bytes, what) as {
      mediaType?: string;
      manifests?: Descriptor[];
      config?: Descriptor;
      layers?: Descriptor[];
    };
    mediaType = doc.mediaType ?? mediaType;
    if (
      mediaType === MEDIA_TYPES.ociIndex ||
      mediaType === MEDIA_TYPES.dockerList ||
      Array.isArray(doc.manifests)
    ) {
      const pick = pickPlatform(doc.manifests ?? []);
      if (pick === undefined)
        throw notFound(`image "${what}": no linux/amd64 image in its manifest list`);
      checkDescriptor(pick, `image "${what}"`, 'manifest');
      const sub = await this.getManifest(ref, pick.digest, what);
      if (sub.digest !== pick.digest)
        throw invalidArgument(`image "${what}": manifest digest mismatch for ${pick.digest}`);
      bytes = sub.bytes;
      digest = sub.digest;
      doc = parseJSON(bytes, what) as typeof doc;
    }
    if (doc.config === undefined || !Array.isArray(doc.layers)) {
      throw invalidArgument(
        `image "${what}": unsupported manifest (${mediaType || 'no media type'}); schema 1 manifests are not supported`,
      );
    }
    const config = checkDescriptor(doc.config, `image "${what}"`, 'config');
    if (config.size > MAX_CONFIG_BYTES)
      throw invalidArgument(
        `image "${what}": config ${config.digest} is ${config.size} bytes; at most ${MAX_CONFIG_BYTES} are accepted`,
      );
    const layers = doc.layers.map((l, i) => checkDescriptor(l, `image "${what}"`, `layer ${i}`));
    return {
      manifest: {
        ...(doc.mediaType ? { mediaType: doc.mediaType } : {}),
        config,
        layers,
      },
      digest,
      bytes,
    };
  }

  /**
   * Fetches a small blob (an image config) into memory, verified. It must be exactly the size
   * its descriptor says, and at most 4 MiB whatever that says; reading stops at the first byte
   * past that.
   */
  async blobBytes(ref: ParsedImageRef, desc: Descriptor): Promise<Buffer> {
    const what = `image "${formatImageRef(ref)}"`;
    checkDescriptor(desc, what, 'blob');
    if (desc.size > MAX_CONFIG_BYTES)
      throw invalidArgument(
        `${what}: blob ${desc.digest} is ${desc.size} bytes; at most ${MAX_CONFIG_BYTES} are read into memory`,
      );
    const res = await this.request(ref, `/blobs/${desc.digest}`, {});
    const bytes = await readLimited(
      res,
      desc.size,
      `${what}: blob ${desc.digest} (its descriptor says ${desc.size} bytes)`,
    );
    if (bytes.length !== desc.size)
      throw invalidArgument(
        `${what}: blob ${desc.digest} is shorter than its descriptor says (${bytes.length} of ${desc.size} bytes)`,
      );
    const got = sha256(bytes);
    if (`sha256:${got}` !== desc.digest) {
      throw invalidArgument(
        `image "${formatImageRef(ref)}": digest mismatch for blob ${desc.digest} (got sha256:${got})`,
      );
    }
    return bytes;
  }

  /**
   * Downloads a blob to `dest`, streaming, and checks its size and sha256. On any failure the file
   * is removed. Transient failures are retried from the start.
   */
  async downloadBlob(
    ref: ParsedImageRef,
    desc: Descriptor,
    dest: string,
    onBytes?: (n: number) => void,
  ): Promise<void> {
    const what = `image "${formatImageRef(ref)}"`;
    checkDescriptor(desc, what, 'blob');
    await this.retry(async () => {
      const res = await this.request(ref, `/blobs/${desc.digest}`, {});
      try {
        await pipeline(
          Readable.from(verifiedBody(res, desc, what, onBytes)),
          createWriteStream(dest, { mode: 0o600 }),
        );
      } catch (err) {
        await rm(dest, { force: true });
        throw err;
      }
    });
  }

  /**
   * A blob's bytes as they arrive, checked against the descriptor's size and sha256: the stream
   * fails at its end (or as soon as it grows past the size) if they do not match, so a consumer must
   * read it to the end before trusting what it made of it. Opening is retried on transient failures.
   */
  async openBlob(
    ref: ParsedImageRef,
    desc: Descriptor,
    onBytes?: (n: number) => void,
  ): Promise<AsyncIterable<Buffer>> {
    const what = `image "${formatImageRef(ref)}"`;
    checkDescriptor(desc, what, 'blob');
    const res = await this.retry(() => this.request(ref, `/blobs/${desc.digest}`, {}));
    return verifiedBody(res, desc, what, onBytes);
  }

  private async getManifest(
    ref: ParsedImageRef,
    reference: string,
    what: string,
  ): Promise<{ bytes: Buffer; digest: string; mediaType: string }> {
    return this.retry(async () => {
      const res = await this.request(ref, `/manifests/${reference}`, { Accept: ACCEPT });
      const bytes = await readLimited(res, MAX_MANIFEST_BYTES, `image "${what}": manifest`);
      return {
        bytes,
        digest: `sha256:${sha256(bytes)}`,
        mediaType: (res.headers.get('content-type') ?? '').split(';')[0] ?? '',
      };
    });
  }

  private async request(
    ref: ParsedImageRef,
    suffix: string,
    headers: Record<string, string>,
  ): Promise<Response> {
    const url = `${this.baseURL(ref.domain)}/v2/${ref.path}${suffix}`;
    const what = `image "${formatImageRef(ref)}"`;
    const scope = `repository:${ref.path}:pull`;
    const send = async (auth?: string): Promise<Response> => {
      try {
        return await this.fetchImpl(url, {
          headers: { ...headers, ...(auth ? { Authorization: auth } : {}) },
          redirect: 'follow',
        });
      } catch (err) {
        const cause = (err as { cause?: { message?: string; code?: string } }).cause;
        const detail = cause?.message ?? (err as Error).message;
        if (/redirect/i.test(detail))
          throw unavailable(`${what}: too many redirects from ${url}`, { cause: err });
        throw new AppError(
          'Unavailable',
          `${what}: cannot reach ${this.baseURL(ref.domain)}: ${detail}`,
          { cause: err, hint: 'is the registry running and reachable?' },
        );
      }
    };
    const tokenKey = `${ref.domain}|${scope}`;
    let res = await send(this.tokens.get(tokenKey) ?? (await this.basicAuth(ref.domain)));
    if (res.status === 401) {
      const challenge = res.headers.get('www-authenticate') ?? '';
      await res.body?.cancel();
      const auth = await this.authorize(ref, challenge, scope);
      this.tokens.set(tokenKey, auth);
      res = await send(auth);
    }
    if (res.ok) return res;
    await res.body?.cancel();
    if (res.status === 401 || res.status === 403)
      throw permissionDenied(`${what}: the registry refused access (HTTP ${res.status})`, {
        hint: 'log in: credentials are read from ~/.docker/config.json',
      });
    if (res.status === 404)
      throw notFound(
        `${what}: not found in ${ref.domain} (${suffix.split('/')[1] ?? ''} ${suffix.split('/')[2] ?? ''})`,
      );
    if (res.status === 429 || res.status >= 500)
      throw new TransientError(`${what}: registry answered HTTP ${res.status}`);
    throw unavailable(`${what}: registry answered HTTP ${res.status} for ${url}`);
  }

  /** Answers a 401 challenge: Basic with stored credentials, or a Bearer token from the realm. */
  private async authorize(ref: ParsedImageRef, challenge: string, scope: string): Promise<string> {
    const what = `image "${formatImageRef(ref)}"`;
    const { scheme, params } = parseChallenge(challenge);
    const creds = await this.credentials(ref.domain);
    if (scheme === 'basic') {
      if (!creds)
        throw permissionDenied(`${what}: the registry needs credentials`, {
          hint: `add ${ref.domain} to auths in ~/.docker/config.json`,
        });
      return basicHeader(creds);
    }
    if (scheme !== 'bearer' || params['realm'] === undefined)
      throw permissionDenied(`${what}: unsupported auth challenge "${challenge}"`);
    let url: URL;
    try {
      url = new URL(params['realm']);
    } catch {
      throw permissionDenied(`${what}: the registry names an invalid token realm`);
    }
    if (params['service'] !== undefined) url.searchParams.set('service', params['service']);
    url.searchParams.set('scope', params['scope'] ?? scope);
    const sendCreds = creds !== undefined && this.realmMayHaveCredentials(ref.domain, url);
    const res = await this.fetchImpl(url, {
      headers: sendCreds ? { Authorization: basicHeader(creds) } : {},
    }).catch((err: unknown) => {
      throw unavailable(`${what}: cannot reach the token service ${url.origin}`, { cause: err });
    });
    if (!res.ok) {
      await res.body?.cancel();
      throw permissionDenied(`${what}: the token service refused (HTTP ${res.status})`);
    }
    const body = parseJSON(await readLimited(res, 1 << 20, 'token'), 'token') as {
      token?: string;
      access_token?: string;
    };
    const token = body.token ?? body.access_token;
    if (!token) throw permissionDenied(`${what}: the token service sent no token`);
    return `Bearer ${token}`;
  }

  /**
   * Whether a token realm may see the registry's credentials: only over https, or at the
   * registry's own host when that registry is itself reached over plain HTTP (loopback or
   * `--insecure-registry`). A realm on another host over HTTP would get them in the clear.
   */
  realmMayHaveCredentials(domain: string, realm: URL): boolean {
    if (realm.protocol === 'https:') return true;
    if (realm.protocol !== 'http:') return false;
    const base = new URL(this.baseURL(domain));
    return base.protocol === 'http:' && realm.host === base.host;
  }

  private async basicAuth(domain: string): Promise<string | undefined> {
    const c = await this.credentials(domain);
    return c ? basicHeader(c) : undefined;
  }

  /** Credentials from `auths` in the Docker config (base64 `user:password`). */
  async credentials(domain: string): Promise<Credentials | undefined> {
    const dir = this.options.dockerConfigDir ?? join(homedir(), '.docker');
    let config: { auths?: Record<string, { auth?: string }> };
    try {
      config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as typeof config;
    } catch {
      return undefined;
    }
    const keys =
      domain === 'docker.io'
        ? ['https://index.docker.io/v1/', 'docker.io', 'index.docker.io', 'registry-1.docker.io']
        : [domain, `https://${domain}`, `http://${domain}`];
    for (const k of keys) {
      const auth = config.auths?.[k]?.auth;
      if (auth) {
        const decoded = Buffer.from(auth, 'base64').toString('utf8');
        const i = decoded.indexOf(':');
        if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
      }
    }
    return undefined;
  }

  /** Runs `fn` again on transient failures, with backoff; the error names the image. */
  private async retry<T>(fn: () => Promise<T>): Promise<T> {
    const attempts = this.options.attempts ?? 3;
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (err) {
        const transient =
          err instanceof TransientError ||
          (AppError.is(err, 'Unavailable') && /cannot reach/.test(err.message));
        if (!transient || i >= attempts) {
          if (err instanceof TransientError)
            throw unavailable(`${err.message} (after ${i} attempts)`);
          throw err;
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** (i - 1)));
      }
    }
  }
}

class TransientError extends Error {}

/** The linux/amd64 entry of a manifest list or OCI index. */
export function pickPlatform(manifests: readonly Descriptor[]): Descriptor | undefined {
  return (
    manifests.find((m) => m.platform?.os === 'linux' && m.platform.architecture === 'amd64') ??
    (manifests.length === 1 && manifests[0]?.platform === undefined ? manifests[0] : undefined)
  );
}

/** Parses `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) params[p[1] ?? ''] = p[2] ?? '';
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a response body into memory, stopping (and cancelling it) past `limit` bytes. */
async function readLimited(res: Response, limit: number, what: string): Promise<Buffer> {
  const len = Number(res.headers.get('content-length') ?? '0');
  if (len > limit) {
    await res.body?.cancel();
    throw invalidArgument(`${what} is too large (${len} bytes, at most ${limit})`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body === null) return Buffer.alloc(0);
  // Leaving the loop early cancels the body: nothing past the limit is buffered.
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    if (total > limit) throw invalidArgument(`${what} is too large (more than ${limit} bytes)`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}

function parseJSON(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalidArgument(`${what}: not valid JSON`);
  }
}

/**
 * A blob response's body, checked as it passes: it fails as soon as it grows past the
 * descriptor's size, and at its end if it is shorter or its sha256 differs. Whatever a consumer
 * made of it counts only once the body was read to the end.
 */
async function* verifiedBody(
  res: Response,
  desc: Descriptor,
  what: string,
  onBytes?: (n: number) => void,
): AsyncGenerator<Buffer> {
  if (res.body === null) throw unavailable(`${what}: empty response for blob ${desc.digest}`);
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of Readable.fromWeb(res.body as WebReadableStream<Uint8Array>)) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > desc.size)
      throw invalidArgument(
        `${what}: blob ${desc.digest} is larger than its manifest says (${desc.size} bytes)`,
      );
    hash.update(buf);
    onBytes?.(buf.length);
    yield buf;
  }
  if (size !== desc.size)
    throw invalidArgument(
      `${what}: blob ${desc.digest} is truncated (${size} of ${desc.size} bytes)`,
    );
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== desc.digest)
    throw invalidArgument(`${what}: digest mismatch for blob ${desc.digest} (got ${got})`);
}
