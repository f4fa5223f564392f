export * from './raw-storage.js';
export * from './fs-raw-storage.js';
export * from './memory-raw-storage.js';
export * from './etcd-raw-storage.js';
export * from './serializer.js';
export * from './storage.js';
export * from './cache.js';
export * from './client.js';

import { CachedStorage } from './cache.js';
import { Client } from './client.js';
import { FsRawStorage } from './fs-raw-storage.js';
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
