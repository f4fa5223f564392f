import { watch as watchPath, type FSWatcher } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { isUID } from '../api/index.js';
import type {
  RawEntry,
  RawWatchEvent,
  RawWatchListener,
  Watch,
  WatchOptions,
} from './raw-storage.js';

/** What a PollingWatch looks at: one kind of a directory store. */
export interface PollingWatchConfig {
  /** The kind's directory: one directory per object, named by its UID. */
  kindDir: string;
  /** An object's directory; a new object file in it wakes the watch early. */
  objectDir: (uid: string) => string;
  /** The name of an object's own file in its directory (`metadata.json`). */
  objectFile: string;
  /** The checksum of an object's file; undefined when it has none. */
  checksum: (uid: string) => string | undefined;
  /** An object's bytes with their checksum, read at once; undefined when it has none. */
  read: (uid: string) => RawEntry | undefined;
  intervalMs: number;
  /** Makes the kind's directory, so that it can be watched before the kind's first object. */
  makeKindDir: () => Promise<void>;
}

/**
 * Watches one kind of a directory store by comparing checksums. Other processes write the same
 * files, so no in-process hook can see every write: a look at every object's checksum each
 * `intervalMs` is what makes the watch complete, and inotify (fs.watch on the kind's directory
 * and each object's) only makes it quick. A look stats each object and reads only those whose
 * checksum changed, in one synchronous pass (a thousand stats take a few milliseconds; reading a
 * thousand objects twice a second would hold the event loop far longer). Only renamed-in files
 * are seen, so a half-written object is never reported.
 */
export class PollingWatch implements Watch {
  readonly ready: Promise<void>;
  private readonly known = new Map<string, RawEntry>();
  private readonly objectWatchers = new Map<string, FSWatcher>();
  private kindWatcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private again = false;
  private closed = false;
  private baseline = true;

  constructor(
    private readonly config: PollingWatchConfig,
    private readonly listener: RawWatchListener,
    private readonly options: WatchOptions = {},
  ) {
    this.wake();
    this.ready = this.scanning ?? Promise.resolve();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.kindWatcher?.close();
    this.kindWatcher = undefined;
    for (const w of this.objectWatchers.values()) w.close();
    this.objectWatchers.clear();
  }

  /** Runs a scan now, or right after the one under way. */
  private wake(): void {
    if (this.closed) return;
    if (this.scanning) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    this.scanning = this.scanOnce().then(() => {
      this.scanning = undefined;
      if (this.closed) return;
      if (this.again) {
        this.again = false;
        this.wake();
      } else {
        this.timer = setTimeout(() => this.wake(), this.config.intervalMs);
      }
    });
  }

  private async scanOnce(): Promise<void> {
    const emit = !this.baseline || this.options.initial === true;
    this.baseline = false;
    if (this.kindWatcher === undefined) {
      // Unmakeable (a read-only store): polling alone still sees every change.
      await this.config.makeKindDir().catch(() => undefined);
      this.attachKindDir();
    }
    let names: string[];
    try {
      names = (await readdir(this.config.kindDir).catch(absentIsEmpty)).filter(isUID).sort();
    } catch (err) {
      this.report(err);
      return;
    }
    if (this.closed) return;
    const seen = new Set<string>();
    for (const uid of names) {
      try {
        const prev = this.known.get(uid);
        const sum = this.config.checksum(uid);
        if (sum === undefined) continue;
        seen.add(uid);
        this.attachObjectDir(uid);
        if (prev?.checksum === sum) continue;
        const entry = this.config.read(uid);
        if (entry === undefined) {
          seen.delete(uid);
          continue;
        }
        this.known.set(uid, entry);
        if (emit) this.emit({ type: prev === undefined ? 'ADDED' : 'MODIFIED', ...entry });
      } catch (err) {
        // Unreadable now: keep what was known of it, and look again next time.
        if (this.known.has(uid)) seen.add(uid);
        this.report(err);
      }
    }
    for (const [uid, prev] of this.known) {
      if (seen.has(uid)) continue;
      this.known.delete(uid);
      this.objectWatchers.get(uid)?.close();
      this.objectWatchers.delete(uid);
      if (emit) this.emit({ type: 'DELETED', ...prev });
    }
  }

  private emit(event: RawWatchEvent): void {
    if (this.closed) return;
    try {
      this.listener(event);
    } catch (err) {
      this.report(err);
    }
  }

  private report(err: unknown): void {
    if (this.closed) return;
    try {
      this.options.onError?.(err);
    } catch {
      // An error handler that fails has nowhere further to report to.
    }
  }

  private attachKindDir(): void {
    const w = this.tryWatch(
      this.config.kindDir,
      (name) => {
        // Other names are the lock (touched every second while held) and trash being removed.
        if (name !== null && !isUID(name)) return;
        if (name !== null) this.attachObjectDir(name);
        this.wake();
      },
      () => {
        if (this.kindWatcher === w) this.kindWatcher = undefined;
      },
    );
    this.kindWatcher = w;
  }

  private attachObjectDir(uid: string): void {
    if (this.closed || this.objectWatchers.has(uid)) return;
    const w = this.tryWatch(
      this.config.objectDir(uid),
      (name) => {
        // Console logs and sockets live here too; only the object's own file matters.
        if (name === null || name === this.config.objectFile) this.wake();
      },
      () => {
        if (this.objectWatchers.get(uid) === w) this.objectWatchers.delete(uid);
      },
    );
    if (w !== undefined) this.objectWatchers.set(uid, w);
  }

  /** An inotify watch, or undefined when the directory is absent or inotify is exhausted. */
  private tryWatch(
    dir: string,
    onName: (name: string | null) => void,
    onGone: () => void,
  ): FSWatcher | undefined {
    if (this.closed) return undefined;
    try {
      const w = watchPath(dir, { persistent: true }, (_event, name) => {
        if (!this.closed) onName(typeof name === 'string' ? name : null);
      });
      // A watched directory that goes away ends its watcher; polling still covers it.
      w.on('error', () => {
        w.close();
        onGone();
      });
      return w;
    } catch {
      return undefined;
    }
  }
}

function absentIsEmpty(err: unknown): string[] {
  if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
  throw err;
}
