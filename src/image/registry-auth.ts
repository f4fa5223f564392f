import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { permissionDenied, unavailable } from '../errors.js';
import { parseJSON, readLimited } from './response-body.js';

/** A registry login, as `auths` in the Docker config holds it. */
export interface Credentials {
  username: string;
  password: string;
}

/** `https://registry-1.docker.io` for Docker Hub, plain HTTP for loopback and listed hosts. */
export function registryBaseURL(domain: string, insecureRegistries: readonly string[]): string {
  const host = domain === 'docker.io' ? 'registry-1.docker.io' : domain;
  const hostname = host.startsWith('[')
    ? host.slice(0, host.indexOf(']') + 1)
    : (host.split(':')[0] ?? host);
  const loopback =
    hostname === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]';
  const insecure = loopback || insecureRegistries.includes(domain);
  return `${insecure ? 'http' : 'https'}://${host}`;
}

/** Parses `Bearer realm="…",service="…",scope="…"`. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
  const m = /^\s*(\w+)\s*(.*)$/.exec(header);
  const params: Record<string, string> = {};
  for (const p of (m?.[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)) params[p[1] ?? ''] = p[2] ?? '';
  return { scheme: (m?.[1] ?? '').toLowerCase(), params };
}

export function basicHeader(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/**
 * Whether a token realm may see the registry's credentials: only over https, or at the
 * registry's own host when that registry is itself reached over plain HTTP (loopback or
 * `--insecure-registry`). A realm on another host over HTTP would get them in the clear.
 */
export function realmMayHaveCredentials(registryBase: string, realm: URL): boolean {
  if (realm.protocol === 'https:') return true;
  if (realm.protocol !== 'http:') return false;
  const base = new URL(registryBase);
  return base.protocol === 'http:' && realm.host === base.host;
}

/** Credentials for `domain` from `auths` in `<configDir>/config.json` (base64 `user:password`). */
export async function readDockerCredentials(
  configDir: string,
  domain: string,
): Promise<Credentials | undefined> {
  let config: { auths?: Record<string, { auth?: string }> };
  try {
    config = JSON.parse(await readFile(join(configDir, 'config.json'), 'utf8')) as typeof config;
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

/** What answering a registry's 401 challenge needs. */
export interface Challenge {
  /** The `WWW-Authenticate` header. */
  header: string;
  /** The scope to ask a token for when the challenge names none. */
  scope: string;
  /** The registry's domain and base URL, for messages and the realm check. */
  domain: string;
  registryBase: string;
  /** The image, for messages: `image "…"`. */
  what: string;
  credentials: Credentials | undefined;
  fetch: typeof fetch;
}

/**
 * Answers a 401 challenge with an `Authorization` value: Basic with stored credentials, or a
 * Bearer token from the realm, which sees the credentials only where realmMayHaveCredentials says.
 */
export async function answerChallenge(c: Challenge): Promise<string> {
  const { what } = c;
  const { scheme, params } = parseChallenge(c.header);
  const creds = c.credentials;
  if (scheme === 'basic') {
    if (!creds)
      throw permissionDenied(`${what}: the registry needs credentials`, {
        hint: `add ${c.domain} to auths in ~/.docker/config.json`,
      });
    return basicHeader(creds);
  }
  if (scheme !== 'bearer' || params['realm'] === undefined)
    throw permissionDenied(`${what}: unsupported auth challenge "${c.header}"`);
  let url: URL;
  try {
    url = new URL(params['realm']);
  } catch {
    throw permissionDenied(`${what}: the registry names an invalid token realm`);
  }
  if (params['service'] !== undefined) url.searchParams.set('service', params['service']);
  url.searchParams.set('scope', params['scope'] ?? c.scope);
  const sendCreds = creds !== undefined && realmMayHaveCredentials(c.registryBase, url);
  const res = await c
    .fetch(url, { headers: sendCreds ? { Authorization: basicHeader(creds) } : {} })
    .catch((err: unknown) => {
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
