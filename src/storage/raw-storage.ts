import type { Kind } from '../api/index.js';

/** Identifies one stored object. */
export interface ObjectKey {
  kind: Kind;
  uid: string;
}

/** One stored object's bytes, with the checksum they were read at. */
export interface RawEntry {
  key: ObjectKey;
  data: Buffer;
  checksum: string;
}

/**
 * Key-indexed bytes: the bottom of the storage stack. The filesystem implementation keeps each
 * object at `<dataDir>/<kind>/<uid>/metadata.json`; that directory also holds the object's files
 * (image.ext4, vmlinux, a VM's disk and sockets), and `delete` removes it whole, as Ignite did.
 *
 * Invariants every implementation keeps (checked by test/suites/raw-storage.suite.ts):
 * - `write` is atomic: a reader sees the old bytes or the new, never a mix, even across processes.
 * - `checksum` changes whenever the bytes are replaced, so caches can tell another process wrote.
 * - `list` returns only keys whose bytes exist; half-made or half-deleted objects are not listed.
 * - `readAll` returns what `list` then `read` and `checksum` of each would, in one pass.
 * - `withLock` gives mutual exclusion per kind, across processes for the filesystem.
 */
export interface RawStorage {
  read(key: ObjectKey): Promise<Buffer>;
  exists(key: ObjectKey): Promise<boolean>;
  write(key: ObjectKey, data: Buffer): Promise<void>;
  delete(key: ObjectKey): Promise<void>;
  list(kind: Kind): Promise<ObjectKey[]>;
  /** Every object of a kind with its bytes and checksum, sorted by uid: the listing's fast path. */
  readAll(kind: Kind): Promise<RawEntry[]>;
  /** An opaque value that changes when the object's bytes change; undefined when absent. */
  checksum(key: ObjectKey): Promise<string | undefined>;
  withLock<T>(kind: Kind, fn: () => Promise<T>): Promise<T>;
}
