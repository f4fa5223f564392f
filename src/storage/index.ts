export * from './raw-storage.js';
export * from './fs-raw-storage.js';
export * from './memory-raw-storage.js';
export * from './etcd-raw-storage.js';
export * from './serializer.js';
export * from './storage.js';
export * from './cache.js';
export * from './client.js';
export * from './store-url.js';

import { CachedStorage } from './cache.js';
import { Client } from './client.js';
import { EtcdRawStorage } from './etcd-raw-storage.js';
import { FsRawStorage } from './fs-raw-storage.js';
import { ObjectDirsRawStorage } from './object-dirs-raw-storage.js';
import { parseStoreURL } from './store-url.js';
import type { HostConfig } from '../system/host-config.js';
import type { RawStorage } from './raw-storage.js';
import { Serializer } from './serializer.js';
import { GenericStorage } from './storage.js';

/** Client → Cache → Storage → RawStorage → Serializer, the stack as Ignite composed it. */
export function newClient(raw: RawStorage, now?: () => Date): Client {
  return new Client(new CachedStorage(new GenericStorage(raw, new Serializer(), now)));
}

export function newFsClient(dataDir: string): Client {
  return newClient(new FsRawStorage(dataDir));
}

/**
 * The store the host's settings name: etcd for `--store etcd://…` (IGNITE_STORE), else the data
 * dir. Objects' files (disks, sockets, logs) stay in the data dir either way.
 */
export function openRawStorage(config: Pick<HostConfig, 'dataDir' | 'store'>): RawStorage {
  const etcd = parseStoreURL(config.store);
  return etcd === undefined
    ? new FsRawStorage(config.dataDir)
    : new ObjectDirsRawStorage(new EtcdRawStorage(etcd), config.dataDir);
}

/** The client over the store the host's settings name (openRawStorage). */
export function newStoreClient(config: Pick<HostConfig, 'dataDir' | 'store'>): Client {
  return newClient(openRawStorage(config));
}
