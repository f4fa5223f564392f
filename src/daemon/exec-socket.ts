import type { IncomingMessage } from 'node:http';
import { PassThrough, Writable, type Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  EXEC_PROTOCOL,
  ExecChannel,
  execFrame,
  parseExecFrame,
  parseExecQuery,
  type ExecChannelNumber,
} from '../api/index.js';
import { invalidArgument, toAppError, type AppError } from '../errors.js';
import { execInGuest, type GuestSSHServices } from '../operations/guest-ssh.js';
import { sameOrigin } from './same-origin.js';
import { closeReason, FORBIDDEN, KeepAlive, toBuffer } from './socket-kit.js';

/** How much stdin a client may send ahead of the command before its socket is read no more. */
const STDIN_BUFFER_BYTES = 1024 * 1024;

export type ExecSocketServices = GuestSSHServices;

/**
 * The daemon's end of `…/vms/{name}/exec` (api/v1alpha1/exec-protocol.ts): runs one command in
 * the VM's guest over SSH from this host, with the VM's own key, and relays its stdin, stdout,
 * stderr and exit status. ssh is read no faster than the client takes the output, and a client
 * that goes away ends the command.
 */
export class ExecSocket {
  private readonly wss: WebSocketServer;
  private readonly keepAlive: KeepAlive;

  constructor(
    private readonly s: ExecSocketServices,
    private readonly statusOf: (err: AppError) => number,
  ) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: STDIN_BUFFER_BYTES,
      perMessageDeflate: false,
      clientTracking: true,
      handleProtocols: (protocols) => (protocols.has(EXEC_PROTOCOL) ? EXEC_PROTOCOL : false),
    });
    this.keepAlive = new KeepAlive(this.wss);
  }

  /** Takes over an upgrade for `query`'s exec; the caller has authenticated the request. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, query: string): void {
    if (!sameOrigin(req)) {
      socket.end(FORBIDDEN);
      return;
    }
    const params = new URL(req.url ?? '/', 'http://ignited').searchParams;
    this.wss.handleUpgrade(req, socket, head, (ws) => void this.serve(ws, query, params));
  }

  private async serve(ws: WebSocket, query: string, params: URLSearchParams): Promise<void> {
    this.keepAlive.track(ws);
    const abort = new AbortController();
    const stdin = new PassThrough({ highWaterMark: STDIN_BUFFER_BYTES });
    const stdout = channelWriter(ws, ExecChannel.STDOUT);
    const stderr = channelWriter(ws, ExecChannel.STDERR);
    let paused = false;
    ws.on('message', (data: RawData) => {
      const frame = parseExecFrame(toBuffer(data));
      if (frame?.channel === ExecChannel.STDIN && !stdin.writableEnded) {
        // Frames already read may still arrive after the pause: one resume on drain serves all.
        if (!stdin.write(frame.payload) && !paused) {
          paused = true;
          ws.pause();
          stdin.once('drain', () => {
            paused = false;
            ws.resume();
          });
        }
      } else if (frame?.channel === ExecChannel.STDIN_EOF) stdin.end();
    });
    ws.on('close', () => abort.abort());
    try {
      const request = parseExecQuery(params);
      if (typeof request === 'string') throw invalidArgument(`exec: ${request}`);
      const r = await execInGuest(this.s, query, {
        ...request,
        stdio: { stdin, stdout, stderr },
        signal: abort.signal,
      });
      // Every byte of output goes before the status.
      await Promise.all([stdout, stderr].map(finished));
      if (ws.readyState !== ws.OPEN) return;
      ws.send(execFrame(ExecChannel.EXIT, Buffer.from(JSON.stringify({ code: r.code }))), {
        binary: true,
      });
      ws.close(1000, 'exited');
    } catch (err) {
      const e = toAppError(err);
      if (ws.readyState === ws.OPEN) ws.close(4000 + this.statusOf(e), closeReason(e.message));
    } finally {
      stdin.destroy();
    }
  }

  /** Closes every exec client, which ends their commands (the daemon is stopping). */
  close(): void {
    this.keepAlive.close();
  }
}

/** A stream whose every write is one frame on `channel`, done once the socket has taken it. */
function channelWriter(ws: WebSocket, channel: ExecChannelNumber): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      if (ws.readyState !== ws.OPEN) return done();
      ws.send(execFrame(channel, chunk), { binary: true }, () => done());
    },
  });
}

function finished(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    w.end(() => resolve());
  });
}
