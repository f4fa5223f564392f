import { invalidArgument } from '../errors.js';
import type { StoreSettings } from '../system/host-config.js';
import type { EtcdConfig } from './etcd-connection.js';

const ETCD_SCHEME = 'etcd://';
const DEFAULT_ETCD_PORT = 2379;
const HOST_PORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/**
 * The etcd cluster that the store settings name, or undefined for the data dir (no URL).
 * `etcd://h1:2379,h2:2379,h3` lists members (port 2379 when left out); TLS is used when a CA is
 * given, with a client certificate when `cert` and `key` are.
 *
 * @example
 * parseStoreURL({ url: 'etcd://10.0.0.1,10.0.0.2:2380?ca=/etc/ignite/ca.pem' });
 * // { endpoints: ['10.0.0.1:2379', '10.0.0.2:2380'], tls: { ca: '/etc/ignite/ca.pem' } }
 */
export function parseStoreURL(settings: StoreSettings): EtcdConfig | undefined {
  const url = settings.url;
  if (url === undefined || url === '') return undefined;
  const bad = (why: string) =>
    invalidArgument(`--store ${url}: ${why}`, {
      hint: 'use etcd://host:port,host:port,… (or leave --store out to use the data dir)',
    });
  if (!url.startsWith(ETCD_SCHEME)) throw bad('unknown store');
  const [hostList = '', query = ''] = url.slice(ETCD_SCHEME.length).split('?', 2);
  const endpoints = hostList.split(',').map((h) => {
    const m = HOST_PORT.exec(h.trim());
    if (!m?.[1]) throw bad(`"${h}" is not a host or host:port`);
    const port = m[2] === undefined ? DEFAULT_ETCD_PORT : Number(m[2]);
    if (port < 1 || port > 65535) throw bad(`port ${port} is out of range`);
    return `${m[1]}:${port}`;
  });
  const params = new URLSearchParams(query);
  for (const name of params.keys())
    if (!['ca', 'cert', 'key'].includes(name)) throw bad(`unknown parameter "${name}"`);
  const file = (name: 'ca' | 'cert' | 'key'): string | undefined =>
    settings[name] ?? params.get(name) ?? undefined;
  const [ca, cert, key] = [file('ca'), file('cert'), file('key')];
  if (ca === undefined) {
    if (cert !== undefined || key !== undefined)
      throw bad('a client certificate needs the CA of the etcd members (--store-ca)');
    return { endpoints };
  }
  if ((cert === undefined) !== (key === undefined))
    throw bad('a client certificate needs its key (--store-cert with --store-key)');
  return {
    endpoints,
    tls: { ca, ...(cert !== undefined ? { cert } : {}), ...(key !== undefined ? { key } : {}) },
  };
}
