import {
  closeSync,
  constants,
  fstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { isProcessAlive } from '../system/linux-processes.js';

/** One cached object: the identity of the file it was decoded from, and its decoded form. */
export interface ListingCacheEntry {
  id: string;
  form: unknown;
}

/** Bumped whenever the file's layout changes; a file of another format is ignored. */
const FORMAT = 1;

/**
 * The listing cache's file: `{format, decoder, entries: {uid: [id, form]}}`, mode 0600, owned by
 * the process's user. Read whole on each listing: it is one file where the store has one per
 * object.
 *
 * A missing, unreadable or corrupt file, one of another format or decoder, or one that another
 * user owns or could have written, reads as empty: the cache is never the authority, and what it
 * serves is not validated again, so only a file this user wrote is trusted.
 */
export class ListingCacheFile {
  constructor(
    readonly path: string,
    private readonly decoder: string,
  ) {}

  load(): Map<string, ListingCacheEntry> {
    let fd: number;
    try {
      fd = openSync(this.path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return new Map();
    }
    try {
      const st = fstatSync(fd);
      const uid = process.geteuid?.();
      if (!st.isFile() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0)
        return new Map();
      return this.parse(readFileSync(fd, 'utf8'));
    } catch {
      return new Map();
    } finally {
      closeSync(fd);
    }
  }

  private parse(text: string): Map<string, ListingCacheEntry> {
    const out = new Map<string, ListingCacheEntry>();
    const doc = JSON.parse(text) as { format?: unknown; decoder?: unknown; entries?: unknown };
    if (doc.format !== FORMAT || doc.decoder !== this.decoder) return out;
    const entries = doc.entries;
    if (entries === null || typeof entries !== 'object' || Array.isArray(entries)) return out;
    for (const [uid, e] of Object.entries(entries as Record<string, unknown>)) {
      if (!Array.isArray(e) || e.length !== 2) continue;
      const [id, form] = e as unknown[];
      if (typeof id === 'string') out.set(uid, { id, form });
    }
    return out;
  }

  /**
   * Replaces the file with the entries `make` gives, atomically (a temp file renamed over it), so
   * a reader sees one writer's whole file; with no entries, removes it. `make` is called only once
   * the temp file is open: where the cache cannot be written (a data dir this user may only
   * read), a listing pays nothing for it but the failed open. Best-effort: a cache that cannot
   * be written is only slower.
   */
  save(make: () => ReadonlyMap<string, ListingCacheEntry>): void {
    const dir = dirname(this.path);
    const tmp = `${this.path}.${process.pid}.${randomBytes(4).toString('hex')}`;
    let fd: number;
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      fd = openSync(tmp, 'wx', 0o600);
    } catch {
      return;
    }
    try {
      const entries = make();
      if (entries.size === 0) {
        removeQuietly(this.path);
        return;
      }
      const doc: Record<string, [string, unknown]> = {};
      for (const [uid, e] of entries) doc[uid] = [e.id, e.form];
      const data = Buffer.from(
        JSON.stringify({ format: FORMAT, decoder: this.decoder, entries: doc }),
      );
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off);
      renameSync(tmp, this.path);
    } catch {
      // Left as it was: the next listing that can write it will.
    } finally {
      closeSync(fd);
      removeQuietly(tmp);
    }
    try {
      this.sweep(readdirSync(dir));
    } catch {
      // Swept by a later save.
    }
  }

  /** Removes temp files of writers that died before their rename. */
  private sweep(names: readonly string[]): void {
    const prefix = `${basename(this.path)}.`;
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      const pid = Number(/^(\d+)\.[0-9a-f]+$/.exec(name.slice(prefix.length))?.[1]);
      if (Number.isInteger(pid) && pid > 0 && !isProcessAlive(pid))
        removeQuietly(join(dirname(this.path), name));
    }
  }
}

function removeQuietly(path: string): void {
  try {
    rmSync(path, { force: true });
  } catch {
    // Left for a later sweep.
  }
}
