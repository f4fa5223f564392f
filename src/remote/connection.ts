import { invalidArgument, toAppError } from '../errors.js';
import type { HostFiles } from '../system/host-files.js';
import { parseDaemonAddress, type DaemonAddress } from './address.js';

/** How to reach a daemon: its address, the CA its certificate is checked against, a token. */
export interface DaemonConnection {
  address: DaemonAddress;
  /** PEM of the CA that signed the daemon's certificate; without it, the system's CAs. */
  ca?: string;
  /** Sent as `Authorization: Bearer …` over TCP; unix-socket clients need none. */
  token?: string;
}

/** The global flags that pick a daemon. */
export interface DaemonFlags {
  host?: string;
  tlsCa?: string;
  tokenFile?: string;
}

/**
 * The daemon the CLI talks to: `--host`, else `IGNITE_HOST`, else `fallback` (for commands that
 * only the daemon serves, such as `events`). Undefined when none is asked for: the CLI then works
 * on the data dir itself. The CA comes from `--tls-ca` or `IGNITE_TLS_CA`; the token from
 * `--token-file`, `IGNITE_TOKEN_FILE` or `IGNITE_TOKEN`.
 */
export async function daemonConnection(
  flags: DaemonFlags,
  env: NodeJS.ProcessEnv,
  files: Pick<HostFiles, 'readText'>,
  fallback?: string,
): Promise<DaemonConnection | undefined> {
  const host = flags.host ?? nonEmpty(env['IGNITE_HOST']) ?? fallback;
  if (host === undefined) return undefined;
  const address = parseDaemonAddress(host);
  if (address.kind === 'unix') return { address };
  return { address, ...(await daemonCredentials(flags, env, files)) };
}

/**
 * What the CLI proves itself with to a tcp:// daemon: the CA from `--tls-ca` or
 * `IGNITE_TLS_CA`, the token from `--token-file`, `IGNITE_TOKEN_FILE` or `IGNITE_TOKEN`. In a
 * fleet it is read once and used for every host's daemon.
 */
export async function daemonCredentials(
  flags: Omit<DaemonFlags, 'host'>,
  env: NodeJS.ProcessEnv,
  files: Pick<HostFiles, 'readText'>,
): Promise<Omit<DaemonConnection, 'address'>> {
  const creds: Omit<DaemonConnection, 'address'> = {};
  const caFile = flags.tlsCa ?? nonEmpty(env['IGNITE_TLS_CA']);
  if (caFile !== undefined) creds.ca = await read(files, '--tls-ca', caFile);
  const tokenFile = flags.tokenFile ?? nonEmpty(env['IGNITE_TOKEN_FILE']);
  const token =
    tokenFile !== undefined
      ? (await read(files, '--token-file', tokenFile)).trim()
      : nonEmpty(env['IGNITE_TOKEN'])?.trim();
  if (token !== undefined && token !== '') creds.token = token;
  return creds;
}

/** How to reach the daemon at `host` (a Host's `spec.address`) with `credentials`. */
export function connectionTo(
  host: string,
  credentials: Omit<DaemonConnection, 'address'>,
): DaemonConnection {
  const address = parseDaemonAddress(host);
  return address.kind === 'unix' ? { address } : { address, ...credentials };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

async function read(
  files: Pick<HostFiles, 'readText'>,
  flag: string,
  path: string,
): Promise<string> {
  try {
    return await files.readText(path);
  } catch (err) {
    throw invalidArgument(`${flag} ${path}: ${toAppError(err).message}`, { cause: err });
  }
}
