import { invalidArgument } from '../errors.js';

/** Where `ignited` listens unless told otherwise. */
export const DEFAULT_DAEMON_HOST = 'unix:///run/ignite/ignited.sock';

/**
 * A daemon's address: a unix socket on this host, or a TCP address. `tcp://` and `https://` speak
 * TLS; `http://` is plain HTTP, for a daemon started with `--insecure` on a loopback address.
 */
export type DaemonAddress =
  | { kind: 'unix'; path: string; url: string }
  | { kind: 'tcp'; host: string; port: number; tls: boolean; url: string };

/** Parses `unix:///run/ignite/ignited.sock`, `tcp://10.0.0.2:7443`, `http://127.0.0.1:7080`. */
export function parseDaemonAddress(value: string): DaemonAddress {
  const text = value.trim();
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!path.startsWith('/'))
      throw invalidArgument(`--host ${value}: expected unix:///absolute/path/to/socket`);
    return { kind: 'unix', path, url: `unix://${path}` };
  }
  const m = /^(tcp|https|http):\/\/(\[[0-9A-Fa-f:.]+\]|[^/:[\]]+):(\d{1,5})\/?$/.exec(text);
  if (!m)
    throw invalidArgument(
      `--host ${value}: expected unix:///path, tcp://host:port (TLS) or http://host:port`,
      { hint: 'the daemon listens on unix:///run/ignite/ignited.sock unless started otherwise' },
    );
  const scheme = m[1] ?? 'tcp';
  const host = (m[2] ?? '').replace(/^\[(.*)\]$/, '$1');
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw invalidArgument(`--host ${value}: ports are 1 to 65535`);
  return { kind: 'tcp', host, port, tls: scheme !== 'http', url: text.replace(/\/$/, '') };
}
