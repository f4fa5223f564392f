import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { toAppError, type AppError } from '../errors.js';
import { openConsoleWithHistory } from '../operations/console.js';
import type { Services } from '../operations/services.js';
import { CONSOLE_CLIENT_BUFFER_BYTES, SLOW_CLIENT_MESSAGE } from '../vmm/console-relay.js';
import { sameOrigin } from './same-origin.js';
import { closeReason, FORBIDDEN, KeepAlive, toBuffer } from './socket-kit.js';

/** The subprotocol a console client asks for (a browser may add `ignite.bearer.<token>`). */
export const CONSOLE_PROTOCOL = 'ignite.console';

/** How much of the console log a new client is sent first: a screenful or several. */
const HISTORY_BYTES = 64 * 1024;

export type ConsoleSocketServices = Pick<
  Services,
  'client' | 'layout' | 'processes' | 'consoles' | 'runtimeFiles' | 'logger'
>;

export interface ConsoleSocketOptions {
  /** How far a browser may fall behind (bytes queued for it) before it is dropped. */
  clientBufferBytes?: number;
  historyBytes?: number;
  pingEveryMs?: number;
  /** The HTTP status an error stands for, told to the client as close code 4000 + status. */
  statusOf: (err: AppError) => number;
}

/**
 * The daemon's end of `…/vms/{name}/console`: a WebSocket (binary frames both ways) joined to
 * the VM's console as `ignite attach` is. A new client gets the log's tail first, then live
 * output; what it sends goes to the guest. Either side closing closes the other. Like an attach
 * client, a browser that falls more than a megabyte behind is dropped, so the daemon's memory
 * stays bounded and the guest is never held up.
 */
export class ConsoleSocket {
  private readonly wss: WebSocketServer;
  private readonly keepAlive: KeepAlive;
  private readonly limit: number;

  constructor(
    private readonly s: ConsoleSocketServices,
    private readonly options: ConsoleSocketOptions,
  ) {
    this.limit = options.clientBufferBytes ?? CONSOLE_CLIENT_BUFFER_BYTES;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.limit,
      perMessageDeflate: false,
      clientTracking: true,
      handleProtocols: (protocols) => (protocols.has(CONSOLE_PROTOCOL) ? CONSOLE_PROTOCOL : false),
    });
    this.keepAlive = new KeepAlive(this.wss, options.pingEveryMs);
  }

  /**
   * Takes over an HTTP upgrade for the console of VM `query` (name, UID or prefix). The caller
   * has authenticated the request; a request from a page of another origin is refused here,
   * since browsers let any page open a WebSocket to any host.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, query: string): void {
    if (!sameOrigin(req)) {
      socket.end(FORBIDDEN);
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => void this.serve(ws, query));
  }

  private async serve(ws: WebSocket, query: string): Promise<void> {
    this.keepAlive.track(ws);
    let opened;
    try {
      opened = await openConsoleWithHistory(
        this.s,
        query,
        this.options.historyBytes ?? HISTORY_BYTES,
      );
    } catch (err) {
      const e = toAppError(err);
      ws.close(4000 + this.options.statusOf(e), closeReason(e.message));
      return;
    }
    const { stream, history, vm } = opened;
    if (ws.readyState !== ws.OPEN) {
      stream.destroy();
      return;
    }
    const log = this.s.logger.child({ vm: vm.metadata.name });
    log.debug('console client attached');
    const drop = (why: string) => {
      log.warn(`vm "${vm.metadata.name}": dropped a console client: ${why}`);
      stream.destroy();
      ws.close(1008, why);
      setTimeout(() => ws.terminate(), 2000).unref();
    };
    if (history.length > 0) ws.send(history, { binary: true });
    stream.on('data', (d: Buffer) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > this.limit) {
        ws.send(Buffer.from(SLOW_CLIENT_MESSAGE), { binary: true });
        drop('it stopped reading the output');
      } else ws.send(d, { binary: true });
    });
    stream.on('close', () => {
      if (ws.readyState === ws.OPEN) ws.close(1000, 'console closed');
    });
    stream.on('error', () => stream.destroy());
    ws.on('message', (data: RawData) => {
      if (stream.destroyed) return;
      stream.write(toBuffer(data));
      if (stream.writableLength > this.limit) drop('the console is not taking its input');
    });
    ws.on('close', () => {
      stream.destroy();
      log.debug('console client detached');
    });
    stream.resume();
  }

  /** Closes every console client (the daemon is stopping). */
  close(): void {
    this.keepAlive.close();
  }
}
