import { compareText, KINDS, type Kind } from '../api/index.js';
import { AppError } from '../errors.js';
import type { Client, StoredChangeOf, StoredOf } from '../storage/client.js';
import type { Watch, WatchEventType } from '../storage/raw-storage.js';
import type { Clock } from '../system/clock.js';

/** One numbered change of one kind, as the feed saw it. */
export interface Change<K extends Kind = Kind> {
  type: WatchEventType;
  /** The feed's counter for the kind: each change has the next number. */
  resourceVersion: number;
  /** When the feed saw the change (RFC 3339). */
  time: string;
  /** The object after the change; for DELETED, as it last was. */
  object: StoredOf<K>;
  /** For MODIFIED, the object before the change. */
  old?: StoredOf<K>;
}

/** A kind's objects, and the version of the feed they are at. */
export interface KindList<K extends Kind> {
  items: StoredOf<K>[];
  resourceVersion: number;
}

export interface Subscription {
  close(): void;
}

export interface ChangeFeedOptions {
  /** Changes kept per kind for subscribers that resume (default 5,000). */
  historySize?: number;
  /** The first resourceVersion less one (default: the clock's milliseconds × 1,000, see open). */
  startVersion?: number;
  /** Told of errors met while watching and of subscribers that throw. */
  onError?: (err: unknown) => void;
}

const HISTORY_SIZE = 5000;

/**
 * A subscriber asked for changes from a version the feed no longer has (or never had: another
 * run's). Its cure is to list again and resume from the list's version; HTTP says 410 Gone.
 */
export class ExpiredVersionError extends AppError {
  constructor(
    readonly kind: Kind,
    readonly resourceVersion: number,
    readonly oldest: number,
  ) {
    super(
      'FailedPrecondition',
      `${kind.toLowerCase()} feed: resourceVersion ${resourceVersion} is too old or unknown; it keeps changes after ${oldest}`,
      { hint: 'list again and watch from the version of that list' },
    );
  }
}

interface Known<K extends Kind> {
  object: StoredOf<K>;
  checksum: string;
  /** The version of the object's last change. */
  version: number;
  time: string;
}

/** One kind's state, history and subscribers. */
class KindFeed<K extends Kind> {
  private readonly objects = new Map<string, Known<K>>();
  private readonly history: Change<K>[] = [];
  /** One entry per subscription, so that a function subscribed twice is closed once at a time. */
  private readonly subscribers = new Set<{ fn: (change: Change<K>) => void }>();
  private version: number;
  /** False while the initial objects come in: they are state, not changes. */
  live = false;

  constructor(
    readonly kind: K,
    startVersion: number,
    private readonly historySize: number,
    private readonly clock: Clock,
    private readonly onError: (err: unknown) => void,
  ) {
    this.version = startVersion;
  }

  get current(): number {
    return this.version;
  }

  /** The smallest `fromVersion` a subscriber may resume from. */
  get oldest(): number {
    return (this.history[0]?.resourceVersion ?? this.version + 1) - 1;
  }

  list(): KindList<K> {
    const items = [...this.objects.values()].map((k) => k.object);
    items.sort((a, b) => compareText(a.metadata.name, b.metadata.name));
    return { items, resourceVersion: this.version };
  }

  apply(c: StoredChangeOf<K>): void {
    const time = this.clock.now().toISOString();
    const prev = this.objects.get(c.uid);
    if (!this.live) {
      if (c.type !== 'DELETED')
        this.objects.set(c.uid, {
          object: c.obj,
          checksum: c.checksum,
          version: this.version,
          time,
        });
      return;
    }
    if (c.type === 'DELETED') {
      if (prev === undefined) return;
      this.objects.delete(c.uid);
      this.record({ type: 'DELETED', resourceVersion: ++this.version, time, object: prev.object });
      return;
    }
    // The same bytes again: a watch reporting what the feed knows (after a store's hiccup).
    if (prev?.checksum === c.checksum) return;
    const version = ++this.version;
    this.objects.set(c.uid, { object: c.obj, checksum: c.checksum, version, time });
    const change: Change<K> =
      prev === undefined
        ? { type: 'ADDED', resourceVersion: version, time, object: c.obj }
        : { type: 'MODIFIED', resourceVersion: version, time, object: c.obj, old: prev.object };
    this.record(change);
  }

  private record(change: Change<K>): void {
    this.history.push(change);
    if (this.history.length > this.historySize) this.history.shift();
    for (const sub of [...this.subscribers])
      if (this.subscribers.has(sub)) this.deliver(sub.fn, change);
  }

  subscribe(fromVersion: number | undefined, fn: (change: Change<K>) => void): Subscription {
    if (fromVersion === undefined) {
      const initial = [...this.objects.values()].sort(
        (a, b) =>
          a.version - b.version || compareText(a.object.metadata.uid, b.object.metadata.uid),
      );
      for (const k of initial) {
        const added: Change<K> = {
          type: 'ADDED',
          resourceVersion: k.version,
          time: k.time,
          object: k.object,
        };
        this.deliver(fn, added);
      }
    } else {
      if (
        !Number.isSafeInteger(fromVersion) ||
        fromVersion < this.oldest ||
        fromVersion > this.version
      )
        throw new ExpiredVersionError(this.kind, fromVersion, this.oldest);
      for (const change of this.history)
        if (change.resourceVersion > fromVersion) this.deliver(fn, change);
    }
    const sub = { fn };
    this.subscribers.add(sub);
    return { close: () => void this.subscribers.delete(sub) };
  }

  private deliver(fn: (change: Change<K>) => void, change: Change<K>): void {
    try {
      fn(change);
    } catch (err) {
      this.onError(err);
    }
  }

  closeAll(): void {
    this.subscribers.clear();
  }
}

/**
 * Every change of the store's objects, numbered per kind, for the daemon's watches and events.
 * One feed serves a whole process: it watches each kind once (Client watch, so other processes'
 * writes too), keeps the current objects and the last changes, and replays them to subscribers
 * that resume from a version.
 *
 * Versions go on from the clock's milliseconds × 1,000, so that a version handed out by an
 * earlier run of the daemon is older than anything this run has and gets ExpiredVersionError (a
 * fresh list), not a silent resume in the wrong place.
 *
 * @example
 * const feed = await ChangeFeed.open({ client, clock });
 * const { items, resourceVersion } = feed.list('VM');
 * const sub = feed.subscribe('VM', resourceVersion, (c) => console.log(c.type, c.object.metadata.name));
 */
export class ChangeFeed {
  private readonly watches: Watch[] = [];

  private constructor(private readonly feeds: { [K in Kind]: KindFeed<K> }) {}

  static async open(
    deps: { client: Pick<Client, 'of'>; clock: Clock },
    options: ChangeFeedOptions = {},
  ): Promise<ChangeFeed> {
    const start = options.startVersion ?? deps.clock.now().getTime() * 1000;
    const size = Math.max(1, options.historySize ?? HISTORY_SIZE);
    const onError = options.onError ?? (() => undefined);
    const make = <K extends Kind>(kind: K) => new KindFeed(kind, start, size, deps.clock, onError);
    const feed = new ChangeFeed({
      VM: make('VM'),
      Image: make('Image'),
      Kernel: make('Kernel'),
      Snapshot: make('Snapshot'),
      Host: make('Host'),
      Volume: make('Volume'),
      Network: make('Network'),
    });
    try {
      for (const kind of KINDS) {
        const kf = feed.of(kind);
        const w = deps.client.of(kind).watch((c) => kf.apply(c), { initial: true, onError });
        feed.watches.push(w);
        await w.ready;
        kf.live = true;
      }
    } catch (err) {
      feed.close();
      throw err;
    }
    return feed;
  }

  private of<K extends Kind>(kind: K): KindFeed<K> {
    return this.feeds[kind];
  }

  /** The kind's objects, sorted by name, and the version to watch from to miss nothing after. */
  list<K extends Kind>(kind: K): KindList<K> {
    return this.of(kind).list();
  }

  /** The kind's latest version. */
  version(kind: Kind): number {
    return this.of(kind).current;
  }

  /** The smallest version `subscribe` accepts: changes after it are all kept. */
  oldestVersion(kind: Kind): number {
    return this.of(kind).oldest;
  }

  /**
   * Calls `fn` with each change of the kind after `fromVersion`: first those kept, at once, then
   * each as it comes. Without a version, first an ADDED for every current object. A version
   * older than the kept history, or newer than the feed, throws ExpiredVersionError.
   * Objects handed out are shared by all subscribers: read them, do not change them.
   */
  subscribe<K extends Kind>(
    kind: K,
    fromVersion: number | undefined,
    fn: (change: Change<K>) => void,
  ): Subscription {
    return this.of(kind).subscribe(fromVersion, fn);
  }

  /** Stops watching the store and drops every subscriber. */
  close(): void {
    for (const w of this.watches) w.close();
    for (const kind of KINDS) this.of(kind).closeAll();
  }
}
