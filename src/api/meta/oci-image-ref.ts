/**
 * OCI image references, normalized as Docker does: `busybox` becomes
 * `docker.io/library/busybox:latest`; a reference with a digest keeps only the digest.
 */
export interface ParsedImageRef {
  /** Registry host, with port if any: `docker.io`, `127.0.0.1:5000`. */
  domain: string;
  /** Repository path inside the registry: `library/busybox`. */
  path: string;
  tag?: string;
  digest?: string;
}

const DEFAULT_DOMAIN = 'docker.io';
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_REPO_PREFIX = 'library/';
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?$|^\[[0-9a-fA-F:]+\](?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$/;

/** Parses and normalizes a reference. Throws RangeError naming what is wrong. */
export function parseImageRef(input: string): ParsedImageRef {
  const ref = input.trim();
  if (ref === '') throw new RangeError('image reference is empty');
  if (ref.length > 4096) throw new RangeError('image reference is too long');

  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw new RangeError(`"${ref}": invalid digest "${digest}"`);
    if (digest.startsWith('sha256:') && !/^sha256:[a-f0-9]{64}$/.test(digest)) {
      throw new RangeError(`"${ref}": a sha256 digest has 64 lower-case hex characters`);
    }
  }

  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag)) throw new RangeError(`"${ref}": invalid tag "${tag}"`);
  }

  let domain = DEFAULT_DOMAIN;
  let path = rest;
  const firstSlash = rest.indexOf('/');
  if (firstSlash >= 0) {
    const first = rest.slice(0, firstSlash);
    if (
      first.includes('.') ||
      first.includes(':') ||
      first === 'localhost' ||
      first !== first.toLowerCase()
    ) {
      domain = first;
      path = rest.slice(firstSlash + 1);
    }
  }
  if (!DOMAIN.test(domain)) throw new RangeError(`"${ref}": invalid registry host "${domain}"`);
  if (domain === LEGACY_DEFAULT_DOMAIN) domain = DEFAULT_DOMAIN;
  if (path !== path.toLowerCase()) {
    throw new RangeError(`"${ref}": repository name must be lower-case`);
  }
  const components = path.split('/');
  for (const c of components) {
    if (!PATH_COMPONENT.test(c))
      throw new RangeError(`"${ref}": invalid repository name "${path}"`);
  }
  if (domain === DEFAULT_DOMAIN && components.length === 1) path = OFFICIAL_REPO_PREFIX + path;

  const parsed: ParsedImageRef = { domain, path };
  if (digest !== undefined) parsed.digest = digest;
  else parsed.tag = tag ?? 'latest';
  return parsed;
}

/** The canonical string of a parsed reference. */
export function formatImageRef(ref: ParsedImageRef): string {
  let s = `${ref.domain}/${ref.path}`;
  if (ref.tag !== undefined) s += `:${ref.tag}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

/** `busybox` → `docker.io/library/busybox:latest`. */
export function normalizeImageRef(input: string): string {
  return formatImageRef(parseImageRef(input));
}

/** The short form Docker prints: `docker.io/library/busybox:latest` → `busybox:latest`. */
export function familiarImageRef(input: string): string {
  const ref = parseImageRef(input);
  let name = ref.domain === DEFAULT_DOMAIN ? ref.path : `${ref.domain}/${ref.path}`;
  if (ref.domain === DEFAULT_DOMAIN && name.startsWith(OFFICIAL_REPO_PREFIX)) {
    name = name.slice(OFFICIAL_REPO_PREFIX.length);
  }
  return formatImageRef({ ...ref, domain: '', path: name }).slice(1);
}
