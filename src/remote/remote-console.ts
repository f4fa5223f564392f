import WebSocket from 'ws';
import { AppError } from '../errors.js';
import type { DaemonClient } from './daemon-client.js';
import { codeOfStatus, problemToAppError } from './problem.js';

/** The subprotocol the daemon's console socket speaks. */
const CONSOLE_PROTOCOL = 'ignite.console';

/** Ctrl-P Ctrl-Q, Docker's detach sequence. */
const DETACH = [0x10, 0x11] as const;

/** A terminal: raw mode is set while attached when it is one. */
export interface ConsoleTerminal {
  stdin: NodeJS.ReadableStream & { setRawMode?: (raw: boolean) => unknown; isTTY?: boolean };
  stdout: NodeJS.WritableStream;
}

/** The WebSocket URL of a path under the API, on the daemon's unix socket or TCP address. */
function socketURL(client: DaemonClient, path: string): string {
  const a = client.connection.address;
  if (a.kind === 'unix') return `ws+unix://${a.path}:${path}`;
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `${a.tls ? 'wss' : 'ws'}://${host}:${a.port}${path}`;
}

/**
 * Connects a terminal to a VM's console through the daemon's WebSocket (binary frames, both
 * ways) until the user detaches with Ctrl-P Ctrl-Q or the VM's console closes.
 */
export async function attachRemoteConsole(
  client: DaemonClient,
  uid: string,
  io: ConsoleTerminal,
): Promise<void> {
  const { path, headers } = client.endpoint(`/vms/${encodeURIComponent(uid)}/console`);
  const ca = client.connection.ca;
  const ws = new WebSocket(socketURL(client, path), [CONSOLE_PROTOCOL], {
    headers,
    ...(ca !== undefined ? { ca } : {}),
  });
  // Listening from the start: what the console sends right after the handshake arrives with it.
  ws.on('message', (data: WebSocket.RawData) =>
    io.stdout.write(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)),
  );
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code: number, reason: Buffer) =>
      resolve({ code, reason: reason.toString('utf8') }),
    ),
  );
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
  const raw = io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function';
  if (raw) io.stdin.setRawMode?.(true);
  let prev = -1;
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer | string) => {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        for (const byte of bytes) {
          if (prev === DETACH[0] && byte === DETACH[1]) return finish();
          prev = byte;
        }
        ws.send(bytes, { binary: true });
      };
      const finish = () => {
        io.stdin.removeListener('data', onData);
        io.stdin.pause();
        ws.close();
        resolve();
      };
      io.stdin.on('data', onData);
      io.stdin.resume();
      // The daemon tells why it could not attach (the VM is not running) as close code 4000 +
      // the HTTP status, with the message as the reason.
      void closed.then(({ code, reason }) => {
        if (code >= 4000 && code < 5000) reject(new AppError(codeOfStatus(code - 4000), reason));
        finish();
      });
      ws.on('error', finish);
    });
  } finally {
    if (raw) io.stdin.setRawMode?.(false);
  }
}
