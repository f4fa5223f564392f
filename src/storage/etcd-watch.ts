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

/**
 * A watch of one kind's keys (`/ignite/<kind>/`) on etcd's watch API. It reads the kind (all of
 * it with `initial`, else only the store's revision) and watches from the next revision, so no
 * change between the read and the watch is missed. etcd reports each change in revision order;
 * the client resumes a broken stream from the last revision it saw. Failures to start go to
 * `onError` and are retried every second until the watch is closed.
 */
export class EtcdWatch implements Watch {
  readonly ready: Promise<void>;
  private watcher: Watcher | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

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
    let revision: bigint | undefined;
    while (!this.closed) {
      try {
        revision ??= await this.readFirst();
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
          this.emit('DELETED', kv, previous);
        });
        watcher.on('error', (err) => this.options.onError?.(this.conn.mapError('watch', err)));
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

  /** The store's revision, after reporting every object at it as ADDED when asked to. */
  private async readFirst(): Promise<bigint> {
    const what = `${this.kind.toLowerCase()} watch`;
    if (this.options.initial !== true) {
      const res = await this.conn.call(what, (etcd) =>
        etcd.getAll().prefix(this.prefix).limit(1).exec(),
      );
      return BigInt(res.header.revision);
    }
    const res = await this.conn.call(what, (etcd) => etcd.getAll().prefix(this.prefix).exec());
    const kvs = res.kvs
      .filter((kv) => isUID(this.uidOf(kv)))
      .sort((a, b) => compareText(this.uidOf(a), this.uidOf(b)));
    for (const kv of kvs) this.emit('ADDED', kv, kv);
    return BigInt(res.header.revision);
  }

  private uidOf(kv: IKeyValue): string {
    return kv.key.toString().slice(this.prefix.length);
  }

  /** Reports one change; DELETED carries the bytes the object had before it went. */
  private emit(type: WatchEventType, kv: IKeyValue, bytes: IKeyValue | undefined): void {
    if (this.closed) return;
    const uid = this.uidOf(kv);
    if (!isUID(uid)) return;
    const event: RawWatchEvent = {
      type,
      key: { kind: this.kind, uid },
      data: Buffer.from(bytes?.value ?? Buffer.alloc(0)),
      checksum: bytes?.mod_revision ?? kv.mod_revision,
    };
    try {
      this.listener(event);
    } catch (err) {
      this.options.onError?.(err);
    }
  }
}
