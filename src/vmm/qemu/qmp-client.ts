import type { Duplex } from 'node:stream';
import { internal, notFound, unavailable, type AppError } from '../../errors.js';

/** An asynchronous event QEMU sends unasked (SHUTDOWN, RESET, STOP, …). */
export interface QMPEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

/** The greeting QEMU sends when a client connects. */
export interface QMPGreeting {
  QMP: {
    version: { qemu: { major: number; minor: number; micro: number }; package: string };
    capabilities: string[];
  };
}

/** One entry of `query-blockstats`: a drive's counters since QEMU started. */
export interface QMPBlockStats {
  device?: string;
  'node-name'?: string;
  qdev?: string;
  stats: {
    rd_bytes: number;
    wr_bytes: number;
    rd_operations: number;
    wr_operations: number;
  };
}

/** `query-migrate`'s reply, the fields the drivers read. */
export interface QMPMigrationInfo {
  status?: string;
  'error-desc'?: string;
  'total-time'?: number;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: AppError) => void;
  timer: NodeJS.Timeout;
}

interface QMPMessage {
  QMP?: unknown;
  event?: string;
  id?: unknown;
  return?: unknown;
  error?: { class?: string; desc?: string };
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * A QMP (QEMU Machine Protocol) client over a connected stream, normally the unix socket of
 * `-mon chardev=…,mode=control`. Commands carry an `id` so replies match even while events
 * interleave; QMP serves one client at a time, so the supervisor keeps this connection open for
 * the VM's life.
 *
 * @example
 * const qmp = await QMPClient.open(socket, 'vm "web"');
 * await qmp.execute('query-status');
 */
export class QMPClient {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<(e: QMPEvent) => void>();
  private greetingResolve: ((g: QMPGreeting) => void) | undefined;
  private isClosed = false;
  /** Settles when the connection has closed, from either side. */
  readonly closed: Promise<void>;

  private constructor(
    private readonly stream: Duplex,
    private readonly label: string,
  ) {
    this.closed = new Promise((resolve) => {
      const onClose = () => {
        if (this.isClosed) return;
        this.isClosed = true;
        for (const [id, p] of this.pending) {
          clearTimeout(p.timer);
          p.reject(unavailable(`${this.label}: qmp ${p.command}: connection closed`));
          this.pending.delete(id);
        }
        resolve();
      };
      stream.once('close', onClose);
      stream.once('end', onClose);
      // A reset connection is reported as a close to pending commands; nothing more to do.
      stream.on('error', onClose);
    });
    stream.on('data', (chunk: Buffer | string) => this.onData(chunk.toString()));
  }

  /** Reads the greeting and leaves negotiation mode (`qmp_capabilities`). */
  static async open(
    stream: Duplex,
    label: string,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<{ client: QMPClient; greeting: QMPGreeting }> {
    const client = new QMPClient(stream, label);
    let timer: NodeJS.Timeout | undefined;
    const greeting = await Promise.race([
      new Promise<QMPGreeting>((resolve) => (client.greetingResolve = resolve)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(unavailable(`${label}: qmp: no greeting within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
      client.closed.then(() => {
        throw unavailable(`${label}: qmp: connection closed before the greeting`);
      }),
    ]).finally(() => clearTimeout(timer));
    await client.execute('qmp_capabilities', undefined, timeoutMs);
    return { client, greeting };
  }

  /** Runs one command; rejects with an AppError carrying QEMU's error class and description. */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<T> {
    if (this.isClosed)
      return Promise.reject(unavailable(`${this.label}: qmp ${command}: connection closed`));
    const id = `ignite-${this.nextId++}`;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(unavailable(`${this.label}: qmp ${command}: no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        command,
        resolve: (v) => resolve(v as T),
        reject,
        timer,
      });
      const msg =
        args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.stream.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Calls `listener` for every event; returns a function that stops it. */
  onEvent(listener: (e: QMPEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** `query-status`: e.g. `{ status: 'running', running: true }`. */
  queryStatus(): Promise<{ status: string; running: boolean }> {
    return this.execute('query-status');
  }

  /** Presses the ACPI power button (microvm: the GED device, only with `acpi=on`). */
  async systemPowerdown(): Promise<void> {
    await this.execute('system_powerdown');
  }

  /** Presses Ctrl-Alt-Del on the PS/2 keyboard, which needs an i8042 in the machine. */
  async sendCtrlAltDel(): Promise<void> {
    const keys = ['ctrl', 'alt', 'delete'].map((data) => ({ type: 'qcode', data }));
    await this.execute('send-key', { keys });
  }

  /** Ends QEMU. QEMU may close the connection before its reply arrives; that counts as done. */
  async quit(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<void> {
    try {
      await this.execute('quit', undefined, timeoutMs);
    } catch (err) {
      if (!this.isClosed) throw err;
    }
  }

  /** Pauses the vCPUs (`stop`); QEMU accepts it when already paused. */
  async stop(): Promise<void> {
    await this.execute('stop');
  }

  /** Sets the link of a NIC (or of its netdev, `name`) up or down, as a cable plugged or pulled. */
  async setLink(name: string, up: boolean): Promise<void> {
    await this.execute('set_link', { name, up });
  }

  /** Lets the vCPUs run (`cont`); after a completed migration it also takes the disks back. */
  async cont(): Promise<void> {
    await this.execute('cont');
  }

  /** `query-migrate`: `status` is absent before the first migration. */
  queryMigrate(): Promise<QMPMigrationInfo> {
    return this.execute('query-migrate');
  }

  queryBlockstats(): Promise<QMPBlockStats[]> {
    return this.execute('query-blockstats');
  }

  close(): void {
    this.stream.destroy();
  }

  private onData(text: string): void {
    this.buffer += text;
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== '') this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: QMPMessage;
    try {
      msg = JSON.parse(line) as QMPMessage;
    } catch {
      return; // QMP only sends JSON; a garbled line cannot be matched to anything.
    }
    if (msg.QMP !== undefined) {
      this.greetingResolve?.(msg as QMPGreeting);
      this.greetingResolve = undefined;
      return;
    }
    if (typeof msg.event === 'string') {
      for (const l of this.listeners) l(msg as QMPEvent);
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (p === undefined || id === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (msg.error !== undefined) p.reject(this.toError(p.command, msg.error));
    else p.resolve(msg.return);
  }

  private toError(command: string, error: { class?: string; desc?: string }): AppError {
    const message = `${this.label}: qmp ${command}: ${error.desc ?? 'failed'} (${error.class ?? 'unknown error class'})`;
    if (error.class === 'DeviceNotFound') return notFound(message, { cause: error });
    return internal(message, { cause: error });
  }
}
