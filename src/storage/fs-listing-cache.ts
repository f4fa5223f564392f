import { readdirSync, statSync } from 'node:fs';
import { compareText, isUID, type Kind, type KindMap } from '../api/index.js';
import type { BuildInfo } from '../system/packaging.js';
import { reviveIfFit, toDecodedForm } from './decoded-form.js';
import { checksumOf, isInterruptedLeftover } from './fs-raw-storage.js';
import { DataLayout, METADATA_FILE } from './layout.js';
import { ListingCacheFile, type ListingCacheEntry } from './listing-cache-file.js';
import { ForwardingStorage } from './forwarding-storage.js';
import type { Storage, StoredEntry } from './storage.js';

/**
 * An object is cached only once its file's last change (ctime) is this far in the past when it
 * is read. Two writes within one tick of the kernel's coarse clock (at most 10 ms) could give a
 * file that takes a freed inode the same size and times, so the same identity, as the one it
 * replaced; once the clock has moved on, any later write has other times. The margin leaves room
 * for the coarse clock's lag behind the one read here.
 */
const SETTLE_MS = 100;
/** More misses than this are read in one pass over the kind, not one by one. */
const MAX_SINGLE_READS = 32;

/** Where a listed object's file stands: the store's checksum, and the identity the cache keeps. */
interface Stamp {
  checksum: string;
  id: string;
  changedMs: number;
}

type Known<K extends Kind> = (uid: string, checksum: string) => KindMap[K] | undefined;

/**
 * A listing cache over the fs store (FsRawStorage beneath `inner`), kept in a file per kind
 * (layout.listingCache, `<dataDir>/.cache/listing-<kind>.json`): each object's decoded form with
 * the identity (inode, size, mtime, ctime) of the file it was decoded from. A listing reads the
 * kind's directory and stats each object's file; an object whose identity matches is taken from
 * the cache without reading or validating its file again, and any other is read and decoded by
 * `inner`, as without the cache. The file is rewritten when what it should hold changed. Several processes may list and write at once: an
 * entry is served only while its file's identity is the one it was decoded at.
 *
 * `decoder` names the code that decoded the cached objects (see listingCacheDecoder): a cache
 * written by another build of ignite, whose schema or defaults may differ, is ignored.
 */
export class FsListingCache extends ForwardingStorage {
  private readonly layout: DataLayout;
  private readonly files = new Map<Kind, ListingCacheFile>();

  constructor(
    inner: Storage,
    dataDir: string,
    private readonly decoder: string,
    private readonly nowMs: () => number = Date.now,
  ) {
    super(inner);
    this.layout = new DataLayout(dataDir);
  }

  private file(kind: Kind): ListingCacheFile {
    let f = this.files.get(kind);
    if (f === undefined) {
      f = new ListingCacheFile(this.layout.listingCache(kind), this.decoder);
      this.files.set(kind, f);
    }
    return f;
  }

  override async entries<K extends Kind>(kind: K, known?: Known<K>): Promise<StoredEntry<K>[]> {
    const started = this.nowMs();
    const names = readNames(this.layout.kindDir(kind));
    const stamps = names === undefined ? undefined : this.stamps(kind, names);
    if (names === undefined || stamps === undefined) return this.inner.entries(kind, known);
    // The store's own listing sweeps what interrupted writes and deletes left, which the cache
    // never looks at: it then lists, still taking the objects it has from the cache.
    const sweep = names.some(isInterruptedLeftover);
    const file = this.file(kind);
    const cached = file.load();
    const served = new Map<string, StoredEntry<K>>();
    const misses: string[] = [];
    for (const [uid, stamp] of stamps) {
      const hit = cached.get(uid);
      const obj =
        hit?.id === stamp.id
          ? (known?.(uid, stamp.checksum) ?? (reviveIfFit(hit.form) as KindMap[K] | undefined))
          : undefined;
      if (obj !== undefined) served.set(uid, { uid, checksum: stamp.checksum, obj });
      else misses.push(uid);
    }
    let listed = [...served.values()];
    if (misses.length > 0 || sweep) {
      const read =
        !sweep && cached.size > 0 && misses.length <= MAX_SINGLE_READS
          ? await this.readEach(kind, misses, stamps)
          : undefined;
      listed =
        read !== undefined
          ? [...listed, ...read].sort((a, b) => compareText(a.uid, b.uid))
          : await this.inner.entries(kind, (uid, checksum) => {
              const s = served.get(uid);
              return s?.checksum === checksum ? s.obj : known?.(uid, checksum);
            });
    }
    // What the cache should hold: the listed objects whose files have settled, as listed.
    const keep = listed.filter((e) => {
      const stamp = stamps.get(e.uid);
      return stamp?.checksum === e.checksum && stamp.changedMs <= started - SETTLE_MS;
    });
    const same =
      keep.length === cached.size &&
      keep.every((e) => cached.get(e.uid)?.id === stamps.get(e.uid)?.id);
    // Before the objects are handed out, while they are as decoded.
    if (!same) file.save(() => cacheEntries(keep, stamps));
    return listed;
  }

  /**
   * The identity of each object's file, by uid in uid order; undefined when a file cannot be
   * looked at, which leaves the listing to `inner` and its errors.
   */
  private stamps(kind: Kind, names: readonly string[]): Map<string, Stamp> | undefined {
    const out = new Map<string, Stamp>();
    const dir = this.layout.kindDir(kind);
    for (const uid of names.filter((n) => isUID(n)).sort()) {
      try {
        const stamp = stampOf(`${dir}/${uid}/${METADATA_FILE}`);
        if (stamp !== undefined) out.set(uid, stamp);
      } catch {
        return undefined;
      }
    }
    return out;
  }

  /**
   * Reads the missed objects one by one, each between two looks at its file that agree, so what
   * was read is what the stamp describes; undefined when a file changed meanwhile.
   */
  private async readEach<K extends Kind>(
    kind: K,
    uids: readonly string[],
    stamps: Map<string, Stamp>,
  ): Promise<StoredEntry<K>[] | undefined> {
    const out: StoredEntry<K>[] = [];
    for (const uid of uids) {
      const before = stamps.get(uid);
      let obj: KindMap[K];
      try {
        obj = await this.inner.get(kind, uid);
      } catch (err) {
        if ((err as { code?: string }).code === 'NotFound') return undefined;
        throw err;
      }
      const after = stampOf(this.layout.metadata(kind, uid));
      if (before === undefined || after?.id !== before.id) return undefined;
      out.push({ uid, checksum: before.checksum, obj });
    }
    return out;
  }
}

/**
 * What names the decoding code in the listing cache: the build's version, commit and date, the
 * date telling apart two builds of one commit. A run from source has no build date, and keeps no
 * listing cache (undefined).
 */
export function listingCacheDecoder(build: BuildInfo): string | undefined {
  if (build.buildDate === 'unknown') return undefined;
  return `${build.version}+${build.gitCommit}@${build.buildDate}`;
}

/** The names in a directory; undefined when it cannot be read (absent, or not ours to read). */
function readNames(dir: string): string[] | undefined {
  try {
    return readdirSync(dir);
  } catch {
    return undefined;
  }
}

/** Where the object file at `path` stands; undefined when there is none. */
function stampOf(path: string): Stamp | undefined {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  if (st === undefined) return undefined;
  return {
    checksum: checksumOf(st),
    id: `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`,
    changedMs: Number(st.ctimeNs / 1_000_000n),
  };
}

/** The cache's entries for `listed`, each with the identity of the file it was read from. */
function cacheEntries<K extends Kind>(
  listed: readonly StoredEntry<K>[],
  stamps: ReadonlyMap<string, Stamp>,
): Map<string, ListingCacheEntry> {
  const out = new Map<string, ListingCacheEntry>();
  for (const e of listed) {
    const id = stamps.get(e.uid)?.id;
    const form = toDecodedForm(e.obj);
    if (id !== undefined && form !== undefined) out.set(e.uid, { id, form });
  }
  return out;
}
