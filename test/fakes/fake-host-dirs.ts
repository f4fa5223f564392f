import { unavailable } from '../../src/errors.js';
import type {
  DirectoryListing,
  DirectoryWatch,
  HostDirectories,
  ReadFilesOptions,
} from '../../src/system/host-dirs.js';

/**
 * Host directories in memory: `files` by absolute path with their text. Writing through `write`
 * or `remove` tells the watchers, as inotify would; `quiet` writes tell no one, as a missed event.
 * A directory in `missing` cannot be read, and a path in `unreadable` is listed with its reason.
 */
export class FakeHostDirectories implements HostDirectories {
  readonly files = new Map<string, string>();
  readonly unreadable = new Map<string, string>();
  readonly missing = new Set<string>();
  private readonly watchers = new Set<{ dir: string; onChange: () => void }>();
  /** How many watches were set up, in all. */
  watches = 0;

  readFiles(dir: string, o: ReadFilesOptions): Promise<DirectoryListing> {
    if (this.missing.has(dir))
      return Promise.reject(unavailable(`directory ${dir}: cannot read: ENOENT`));
    const out: DirectoryListing = { files: [], unreadable: [] };
    for (const [full, text] of [...this.files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (!full.startsWith(`${dir}/`)) continue;
      const path = full.slice(dir.length + 1);
      if (!o.match(path)) continue;
      const why = this.unreadable.get(full);
      if (why !== undefined) out.unreadable.push({ path, reason: why });
      else if (text.length > o.maxBytes)
        out.unreadable.push({ path, reason: `larger than ${o.maxBytes} bytes` });
      else out.files.push({ path, text });
    }
    return Promise.resolve(out);
  }

  watch(dir: string, onChange: () => void): DirectoryWatch {
    const w = { dir, onChange };
    this.watchers.add(w);
    this.watches++;
    return { close: () => void this.watchers.delete(w) };
  }

  /** Writes a file and tells the watchers of its directory. */
  write(path: string, text: string, o: { quiet?: boolean } = {}): void {
    this.files.set(path, text);
    if (o.quiet !== true) this.changed(path);
  }

  remove(path: string): void {
    this.files.delete(path);
    this.changed(path);
  }

  /** How many watches are open. */
  get watching(): number {
    return this.watchers.size;
  }

  private changed(path: string): void {
    for (const w of this.watchers) if (path.startsWith(`${w.dir}/`)) w.onChange();
  }
}
