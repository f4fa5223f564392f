import { isIP } from 'node:net';
import { invalidArgument } from '../errors.js';

export const DEFAULT_SOCKET = '/run/ignite/ignited.sock';
export const DEFAULT_LISTEN = `unix://${DEFAULT_SOCKET}`;

export type ListenAddress =
  | { kind: 'unix'; path: string; url: string }
  | { kind: 'tcp'; host: string; port: number; url: string };

/** Parses `unix:///path` or `tcp://host:port` (`tcp://[::1]:port` for IPv6). */
export function parseListenAddress(value: string): ListenAddress {
  if (value.startsWith('unix://')) {
    const path = value.slice('unix://'.length);
    if (!path.startsWith('/'))
      throw invalidArgument(`--listen ${value}: a unix socket needs an absolute path (unix:///…)`);
    return { kind: 'unix', path, url: value };
  }
  const m = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})$/.exec(value);
  const port = Number(m?.[2]);
  if (!m?.[1] || !(port >= 1 && port <= 65535))
    throw invalidArgument(`--listen ${value}: expected unix:///path or tcp://host:port`);
  const host = m[1].replace(/^\[|\]$/g, '');
  return { kind: 'tcp', host, port, url: value };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export interface TCPSecurity {
  tlsCert?: string;
  tlsKey?: string;
  tokenFile?: string;
  insecure: boolean;
}

/**
 * Whether a TCP address may be served with the security given: TLS and a token always do;
 * without them only a loopback address with --insecure does. Returns whether TLS is used.
 */
export function checkTCPSecurity(addr: ListenAddress & { kind: 'tcp' }, o: TCPSecurity): boolean {
  const tls = o.tlsCert !== undefined || o.tlsKey !== undefined;
  if (tls && (o.tlsCert === undefined || o.tlsKey === undefined))
    throw invalidArgument('--tls-cert and --tls-key: give both');
  if (tls && o.tokenFile !== undefined) return true;
  if (o.insecure && isLoopback(addr.host)) return tls;
  if (o.insecure)
    throw invalidArgument(
      `--listen ${addr.url}: --insecure is allowed only on a loopback address (127.0.0.1, ::1)`,
    );
  throw invalidArgument(
    `--listen ${addr.url}: TCP needs --tls-cert, --tls-key and --token-file (or --insecure on a loopback address)`,
  );
}
