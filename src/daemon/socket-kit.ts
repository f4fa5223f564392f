import type { RawData, WebSocket, WebSocketServer } from 'ws';
import { API_BASE } from './router.js';

/** How often clients are pinged; one that has not answered the last ping is cut off. */
const PING_EVERY_MS = 30_000;

/**
 * Pings every client of a WebSocket server and cuts off one that did not answer the last ping,
 * so a client that vanished without closing does not hold what it was given forever.
 */
export class KeepAlive {
  private readonly alive = new WeakSet<WebSocket>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly wss: WebSocketServer,
    everyMs = PING_EVERY_MS,
  ) {
    this.timer = setInterval(() => this.ping(), everyMs);
    this.timer.unref();
  }

  track(ws: WebSocket): void {
    this.alive.add(ws);
    ws.on('pong', () => this.alive.add(ws));
    ws.on('error', () => ws.terminate());
  }

  private ping(): void {
    for (const ws of this.wss.clients) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  /** Closes every client (the daemon is stopping) and the server. */
  close(): void {
    clearInterval(this.timer);
    for (const ws of this.wss.clients) ws.close(1001, 'the daemon is stopping');
    setTimeout(() => {
      for (const ws of this.wss.clients) ws.terminate();
    }, 1000).unref();
    this.wss.close();
  }
}

/** The VM (decoded) a path `…/vms/{name}/<sub>` names, or undefined for any other path. */
export function vmOfSocketPath(pathname: string, sub: string): string | undefined {
  const raw = new RegExp(`^${API_BASE}/vms/([^/]+)/${sub}/?$`).exec(pathname)?.[1];
  if (raw === undefined) return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

export function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/** A WebSocket close reason is at most 123 bytes of UTF-8. */
export function closeReason(message: string): string {
  let r = message;
  while (Buffer.byteLength(r) > 123) r = r.slice(0, -1);
  return r;
}

export const FORBIDDEN = 'HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';
