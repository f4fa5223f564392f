import type { IKeyValue, Watcher } from 'etcd3';
import { compareText, isUID, type Kind } from '../api/index.js';
import type { EtcdConnection } from './etcd-connection.js';
import type {
  RawWatchEvent,
  RawWatchListener,
  Watch,
  WatchEventType,
  WatchOptions,
} from './raw-storage.js';

const RETRY_MS = 1000;

/** What the watch last knew of an object: its bytes (for DELETED) and its mod revision. */
interface Known {
  value: Buffer;
  modRevision: string;
}

/**
 * A watch of one kind's keys (`/ignite/<kind>/`) on etcd's watch API. It reads the kind (reporting
 * all of it as ADDED with `initial`) and watches from the next revision, so no change between the
 * read and the watch is missed. etcd reports each change in revision order, and the client resumes
 * a broken stream from the last revision it saw.
 *
 * etcd cancels a watch whose next revision was compacted away, which happens when a stream stays
 * broken while the store is compacted. The watch then reads the kind again and reports what
 * changed against what it knew (ADDED, MODIFIED, DELETED), and watches on from there: a listener
 * may miss intermediate versions, never the latest state. Failures go to `onError` and are
 * retried every second until the watch is closed.
 */
export class EtcdWatch implements Watch {
  readonly ready: Promise<void>;
  private watcher: Watcher | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly known = new Map<string, Known>();

  constructor(
    private readonly conn: EtcdConnection,
    private readonly prefix: string,
    private readonly kind: Kind,
    private readonly listener: RawWatchListener,
    private readonly options: WatchOptions = {},
  ) {
    this.ready = this.start();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.wake?.();
    const w = this.watcher;
    this.watcher = undefined;
    void w?.cancel().catch(() => undefined);
  }

  private async start(): Promise<void> {
    await this.run('first');
  }

  /** Reads the kind, reports it as `how` says, and watches from the revision read. */
  private async run(how: 'first' | 'resync'): Promise<void> {
    let revision: bigint | undefined;
    while (!this.closed) {
      try {
        revision ??= await this.read(how);
        const watcher = await this.conn.call(`${this.kind.toLowerCase()} watch`, (etcd) =>
          etcd
            .watch()
            .prefix(this.prefix)
            .startRevision(String((revision ?? 0n) + 1n))
            .withPreviousKV()
            .create(),
        );
        if (this.closed) {
          await watcher.cancel().catch(() => undefined);
          return;
        }
        this.watcher = watcher;
        watcher.on('put', (kv) => {
          this.emit(kv.version === '1' ? 'ADDED' : 'MODIFIED', kv, kv);
        });
        watcher.on('delete', (kv, previous) => {
          const before = this.known.get(this.uidOf(kv));
          if (previous === undefined && before !== undefined)
            this.emitDeleted(this.uidOf(kv), before);
          else this.emit('DELETED', kv, previous);
        });
        watcher.on('error', (err) => {
          this.options.onError?.(this.conn.mapError('watch', err));
          // A watcher etcd canceled (its revision was compacted) reports no more: start over.
          if (this.watcher !== watcher || this.closed) return;
          this.watcher = undefined;
          void watcher.cancel().catch(() => undefined);
          void this.run('resync');
        });
        return;
      } catch (err) {
        this.options.onError?.(err);
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.retry = setTimeout(resolve, RETRY_MS);
        });
      }
    }
  }

  /**
   * The store's revision, after reading every object of the kind: at first reported as ADDED
   * when asked to, on a resync reported as what changed since the watch last knew.
   */
  private async read(how: 'first' | 'resync'): Promise<bigint> {
    const res = await this.conn.call(`${this.kind.toLowerCase()} watch`, (etcd) =>
      etcd.getAll().prefix(this.prefix).exec(),
    );
    const kvs = res.kvs
      .filter((kv) => isUID(this.uidOf(kv)))
      .sort((a, b) => compareText(this.uidOf(a), this.uidOf(b)));
    const report = how === 'resync' || this.options.initial === true;
    const seen = new Set<string>();
    for (const kv of kvs) {
      const uid = this.uidOf(kv);
      seen.add(uid);
      const before = this.known.get(uid);
      if (before?.modRevision === kv.mod_revision) continue;
      if (report) this.emit(before === undefined ? 'ADDED' : 'MODIFIED', kv, kv);
      else this.remember(uid, kv);
    }
    if (how === 'resync')
      for (const [uid, before] of [...this.known])
        if (!seen.has(uid)) this.emitDeleted(uid, before);
    return BigInt(res.header.revision);
  }

  private uidOf(kv: IKeyValue): string {
    return kv.key.toString().slice(this.prefix.length);
  }

  private remember(uid: string, kv: IKeyValue): void {
    this.known.set(uid, { value: Buffer.from(kv.value), modRevision: kv.mod_revision });
  }

  /** Reports one change; DELETED carries the bytes the object had before it went. */
  private emit(type: WatchEventType, kv: IKeyValue, bytes: IKeyValue | undefined): void {
    if (this.closed) return;
    const uid = this.uidOf(kv);
    if (!isUID(uid)) return;
    if (type === 'DELETED') this.known.delete(uid);
    else this.remember(uid, kv);
    this.deliver({
      type,
      key: { kind: this.kind, uid },
      data: Buffer.from(bytes?.value ?? Buffer.alloc(0)),
      checksum: bytes?.mod_revision ?? kv.mod_revision,
    });
  }

  private emitDeleted(uid: string, before: Known): void {
    if (this.closed) return;
    this.known.delete(uid);
    this.deliver({
      type: 'DELETED',
      key: { kind: this.kind, uid },
      data: before.value,
      checksum: before.modRevision,
    });
  }

  private deliver(event: RawWatchEvent): void {
    try {
      this.listener(event);
    } catch (err) {
      this.options.onError?.(err);
    }
  }
}
