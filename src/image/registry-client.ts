import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { formatImageRef, type ParsedImageRef } from '../api/index.js';
import { invalidArgument, notFound } from '../errors.js';
import {
  MANIFEST_ACCEPT,
  MAX_CONFIG_BYTES,
  MAX_MANIFEST_BYTES,
  checkDescriptor,
  checkImageManifest,
  isManifestList,
  pickPlatform,
  sha256,
  type Descriptor,
  type ImageManifest,
  type ManifestDocument,
} from './oci-manifest.js';
import {
  answerChallenge,
  basicHeader,
  readDockerCredentials,
  realmMayHaveCredentials,
  registryBaseURL,
  type Credentials,
} from './registry-auth.js';
import { refusal, unreachable, withRetry } from './registry-failures.js';
import { parseJSON, readLimited, verifiedBody } from './response-body.js';

export interface RegistryClientOptions {
  /** Hosts reached over plain HTTP though not on loopback (`--insecure-registry`). */
  insecureRegistries?: readonly string[];
  /** Where config.json with `auths` is (default ~/.docker). */
  dockerConfigDir?: string;
  /** Attempts for transient failures (connection errors, 5xx, 429). */
  attempts?: number;
  fetch?: typeof fetch;
}

/**
 * A client of the OCI distribution API (Docker Registry HTTP API v2): manifests and blobs, with
 * anonymous, Basic and Bearer-token auth. Every manifest and blob is checked against its digest.
 */
export class RegistryClient {
  private readonly tokens = new Map<string, string>();
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.fetchImpl = options.fetch ?? fetch;
  }

  /** `https://registry-1.docker.io` for Docker Hub, plain HTTP for loopback and listed hosts. */
  baseURL(domain: string): string {
    return registryBaseURL(domain, this.options.insecureRegistries ?? []);
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
    let doc = parseJSON(bytes, what) as ManifestDocument;
    mediaType = doc.mediaType ?? mediaType;
    if (isManifestList(doc, mediaType)) {
      const pick = pickPlatform(doc.manifests ?? []);
      if (pick === undefined)
        throw notFound(`image "${what}": no linux/amd64 image in its manifest list`);
      checkDescriptor(pick, `image "${what}"`, 'manifest');
      const sub = await this.getManifest(ref, pick.digest, what);
      if (sub.digest !== pick.digest)
        throw invalidArgument(`image "${what}": manifest digest mismatch for ${pick.digest}`);
      bytes = sub.bytes;
      digest = sub.digest;
      doc = parseJSON(bytes, what) as ManifestDocument;
    }
    return { manifest: checkImageManifest(doc, what, mediaType), digest, bytes };
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
      const res = await this.request(ref, `/manifests/${reference}`, { Accept: MANIFEST_ACCEPT });
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
        throw unreachable(err, what, url, this.baseURL(ref.domain));
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
    throw refusal(res.status, { what, domain: ref.domain, suffix, url });
  }

  /** Answers a 401 challenge: Basic with stored credentials, or a Bearer token from the realm. */
  private async authorize(ref: ParsedImageRef, challenge: string, scope: string): Promise<string> {
    return answerChallenge({
      header: challenge,
      scope,
      domain: ref.domain,
      registryBase: this.baseURL(ref.domain),
      what: `image "${formatImageRef(ref)}"`,
      credentials: await this.credentials(ref.domain),
      fetch: this.fetchImpl,
    });
  }

  /**
   * Whether a token realm may see the registry's credentials: only over https, or at the
   * registry's own host when that registry is itself reached over plain HTTP (loopback or
   * `--insecure-registry`). A realm on another host over HTTP would get them in the clear.
   */
  realmMayHaveCredentials(domain: string, realm: URL): boolean {
    return realmMayHaveCredentials(this.baseURL(domain), realm);
  }

  private async basicAuth(domain: string): Promise<string | undefined> {
    const c = await this.credentials(domain);
    return c ? basicHeader(c) : undefined;
  }

  /** Credentials from `auths` in the Docker config (base64 `user:password`). */
  async credentials(domain: string): Promise<Credentials | undefined> {
    return readDockerCredentials(
      this.options.dockerConfigDir ?? join(homedir(), '.docker'),
      domain,
    );
  }

  private retry<T>(fn: () => Promise<T>): Promise<T> {
    return withRetry(this.options.attempts ?? 3, fn);
  }
}
