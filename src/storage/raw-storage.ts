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
  /**
   * Reports every later write and delete of a kind, by this process or any other, until closed.
   * Writes are reported once their bytes are whole (a reader could `read` them); several writes
   * of one object between two looks may be reported as one. Errors while watching (an unreadable
   * store) go to `options.onError`, and watching goes on.
   */
  watch(kind: Kind, listener: RawWatchListener, options?: WatchOptions): Watch;
  /**
   * Releases what the store holds for this process (connections, leases, locks); nothing may be
   * called after it. A no-op for stores that hold nothing.
   */
  close(): Promise<void>;
}

/** What happened to a watched object. */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/**
 * One change of a watched kind. `data` and `checksum` are the new bytes, or for DELETED the last
 * bytes the watch knew of the object.
 */
export interface RawWatchEvent {
  type: WatchEventType;
  key: ObjectKey;
  data: Buffer;
  checksum: string;
}

export type RawWatchListener = (event: RawWatchEvent) => void;

export interface WatchOptions {
  /**
   * Report every object there is first, as ADDED, before `ready` resolves: one ordered stream
   * of the kind's whole state, with no gap between a listing and the watch.
   */
  initial?: boolean;
  /** Told of errors met while watching; the watch goes on. Ignored when absent. */
  onError?: (err: unknown) => void;
}

/** A running watch. */
export interface Watch {
  /**
   * Resolves once the watch knows the kind's current objects: every write that starts after it
   * resolves is reported. It never rejects.
   */
  readonly ready: Promise<void>;
  /** Stops the watch: no listener call follows, and its timers and file watchers are released. */
  close(): void;
}
