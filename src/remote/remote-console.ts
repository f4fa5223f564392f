import type { DaemonClient } from './daemon-client.js';
import { openDaemonSocket } from './remote-socket.js';

/** The subprotocol the daemon's console socket speaks. */
const CONSOLE_PROTOCOL = 'ignite.console';

/** Ctrl-P Ctrl-Q, Docker's detach sequence. */
const DETACH = [0x10, 0x11] as const;

/** A terminal: raw mode is set while attached when it is one. */
export interface ConsoleTerminal {
  stdin: NodeJS.ReadableStream & { setRawMode?: (raw: boolean) => unknown; isTTY?: boolean };
  stdout: NodeJS.WritableStream;
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
  const { ws, closed } = await openDaemonSocket(
    client,
    `/vms/${encodeURIComponent(uid)}/console`,
    CONSOLE_PROTOCOL,
    (data) => io.stdout.write(data),
  );
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
      // The daemon tells why it could not attach (the VM is not running) as an error close.
      closed.then(finish, (err: Error) => {
        reject(err);
        finish();
      });
      ws.on('error', finish);
    });
  } finally {
    if (raw) io.stdin.setRawMode?.(false);
  }
}
