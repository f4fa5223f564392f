import WebSocket from 'ws';
import { AppError } from '../errors.js';
import type { DaemonClient, RequestOptions } from './daemon-client.js';
import { codeOfStatus, problemToAppError } from './problem.js';

/** The WebSocket URL of a path under the API, on the daemon's unix socket or TCP address. */
function socketURL(client: DaemonClient, path: string): string {
  const a = client.connection.address;
  if (a.kind === 'unix') return `ws+unix://${a.path}:${path}`;
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `${a.tls ? 'wss' : 'ws'}://${host}:${a.port}${path}`;
}

export interface DaemonSocket {
  ws: WebSocket;
  /**
   * Settles when the socket closes: with the close code and reason, or rejected with the AppError
   * the daemon closed it for (code 4000 + the error's HTTP status, the message as the reason).
   */
  closed: Promise<{ code: number; reason: string }>;
}

/**
 * Opens a WebSocket to `path` under the daemon's API with `protocol`, listening from the start
 * (what the daemon sends right after the handshake arrives with it) through `onMessage`. A
 * refused upgrade rejects with the AppError of the daemon's problem answer.
 */
export async function openDaemonSocket(
  client: DaemonClient,
  path: string,
  protocol: string,
  onMessage: (data: Buffer) => void,
  query: RequestOptions['query'] = {},
): Promise<DaemonSocket> {
  const { path: full, headers } = client.endpoint(path, query);
  const ca = client.connection.ca;
  const ws = new WebSocket(socketURL(client, full), [protocol], {
    headers,
    ...(ca !== undefined ? { ca } : {}),
  });
  ws.on('message', (data: WebSocket.RawData) =>
    onMessage(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)),
  );
  const closed = new Promise<{ code: number; reason: string }>((resolve, reject) =>
    ws.once('close', (code: number, reason: Buffer) => {
      const text = reason.toString('utf8');
      if (code >= 4000 && code < 5000) reject(new AppError(codeOfStatus(code - 4000), text));
      else resolve({ code, reason: text });
    }),
  );
  // Handled by whoever awaits it; a socket that never opens rejects below instead.
  closed.catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        reject(
          problemToAppError(client.url, res.statusCode ?? 0, Buffer.concat(chunks).toString()),
        ),
      );
    });
    ws.once('error', (err) => reject(client.connectionError(err)));
  });
  return { ws, closed };
}
