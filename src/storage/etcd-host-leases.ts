import type { HostConfig } from '../system/host-config.js';
import { EtcdConnection, type EtcdConfig } from './etcd-connection.js';
import type { Fleet } from './fleet.js';
import { parseStoreURL } from './store-url.js';

/** What a fleet's front ends read of it: which hosts hold a lease now. */
export type LiveHosts = Pick<Fleet, 'liveHosts' | 'close'>;

/**
 * Reads the hosts whose lease key (`<root>hostleases/<host>`, fleet.ts) exists in etcd: the
 * read side of the fleet that a CLI needs, without taking leases or campaigning.
 */
export class EtcdHostLeases implements LiveHosts {
  private readonly conn: EtcdConnection;
  private readonly prefix: string;

  constructor(config: EtcdConfig & { root?: string }) {
    this.conn = new EtcdConnection(config);
    this.prefix = `${config.root ?? '/ignite/'}hostleases/`;
  }

  async liveHosts(): Promise<Set<string>> {
    const keys = await this.conn.call('list host leases', (etcd) =>
      etcd.getAll().prefix(this.prefix).keys(),
    );
    return new Set(keys.map((k) => k.slice(this.prefix.length)));
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

/** The live hosts of the fleet the settings' store is, or undefined for a data-dir store. */
export function openHostLeases(config: Pick<HostConfig, 'store'>): LiveHosts | undefined {
  const etcd = parseStoreURL(config.store);
  return etcd === undefined ? undefined : new EtcdHostLeases(etcd);
}
