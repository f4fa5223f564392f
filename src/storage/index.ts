export * from './raw-storage.js';
export * from './fs-raw-storage.js';
export * from './memory-raw-storage.js';
export * from './etcd-raw-storage.js';
export * from './serializer.js';
export * from './storage.js';
export * from './cache.js';
export * from './client.js';
export * from './store-url.js';
export * from './kind-routed-raw-storage.js';
export * from './fleet.js';
export * from './etcd-fleet.js';
export * from './fs-listing-cache.js';

import { CachedStorage } from './cache.js';
import { Client } from './client.js';
import { EtcdFleet } from './etcd-fleet.js';
import { EtcdRawStorage } from './etcd-raw-storage.js';
import type { Fleet } from './fleet.js';
import { FsListingCache } from './fs-listing-cache.js';
import { FsRawStorage } from './fs-raw-storage.js';
import { KindRoutedRawStorage } from './kind-routed-raw-storage.js';
import { ObjectDirsRawStorage } from './object-dirs-raw-storage.js';
import { parseStoreURL } from './store-url.js';
import type { Kind } from '../api/index.js';
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
 * The kinds each host keeps in its own data dir even when the store is shared: their files, or
 * for a network its bridge and rules, exist on one host only.
 */
export const HOST_LOCAL_KINDS: Kind[] = ['Image', 'Kernel', 'Snapshot', 'Network'];

/**
 * The store the host's settings name: etcd for `--store etcd://…` (IGNITE_STORE), else the data
 * dir. With etcd, VMs and hosts are shared there, and images, kernels, snapshots and networks
 * stay in the data dir with their files (KindRoutedRawStorage). Objects' files (disks, sockets,
 * logs) stay in the data dir either way.
 */
export function openRawStorage(config: Pick<HostConfig, 'dataDir' | 'store'>): RawStorage {
  const etcd = parseStoreURL(config.store);
  const local = new FsRawStorage(config.dataDir);
  if (etcd === undefined) return local;
  return new KindRoutedRawStorage({
    shared: new ObjectDirsRawStorage(new EtcdRawStorage(etcd), config.dataDir),
    local,
    localKinds: HOST_LOCAL_KINDS,
  });
}

export interface StoreClientOptions {
  /**
   * Names the code that decodes stored objects (listingCacheDecoder): given, listings of the data
   * dir's store go through its listing cache (FsListingCache), which that name keys.
   */
  listingCacheDecoder?: string | undefined;
}

/**
 * The client over the store the host's settings name (openRawStorage). A store in the data dir
 * alone is listed through its listing cache when `options` names a decoder.
 */
export function newStoreClient(
  config: Pick<HostConfig, 'dataDir' | 'store'>,
  options: StoreClientOptions = {},
): Client {
  const decoder = options.listingCacheDecoder;
  if (parseStoreURL(config.store) !== undefined || decoder === undefined)
    return newClient(openRawStorage(config));
  const storage = new GenericStorage(new FsRawStorage(config.dataDir), new Serializer());
  return new Client(new CachedStorage(new FsListingCache(storage, config.dataDir, decoder)));
}

/**
 * The fleet (host leases, live hosts, the scheduler election) of the store the host's settings
 * name: etcd's for `--store etcd://…`, none for the data dir.
 */
export function openFleet(config: Pick<HostConfig, 'store'>): Fleet | undefined {
  const etcd = parseStoreURL(config.store);
  return etcd === undefined ? undefined : new EtcdFleet(etcd);
}
