import {
  EXEC_PROTOCOL,
  ExecChannel,
  execFrame,
  execQuery,
  parseExecFrame,
  type ExecRequest,
} from '../api/index.js';
import { AppError } from '../errors.js';
import type { DaemonClient } from './daemon-client.js';
import { openDaemonSocket } from './remote-socket.js';

/** Where the command reads and writes; a terminal's raw mode is set while a tty is asked for. */
export interface RemoteExecIO {
  stdin: NodeJS.ReadableStream & { setRawMode?: (raw: boolean) => unknown; isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** How much stdin may wait to be sent before reading it pauses. */
const SEND_BUFFER_BYTES = 1024 * 1024;

/**
 * Runs a command in a VM's guest through the daemon of the VM's host (the exec WebSocket, see
 * api/v1alpha1/exec-protocol.ts) and resolves with its exit status. Output is written as it
 * comes, and the socket is read no faster than `stdout` and `stderr` take it.
 */
export async function execThroughDaemon(
  client: DaemonClient,
  uid: string,
  request: ExecRequest,
  io: RemoteExecIO,
): Promise<number> {
  let status: number | AppError | undefined;
  let paused = false;
  const { ws, closed } = await openDaemonSocket(
    client,
    `/vms/${encodeURIComponent(uid)}/exec`,
    EXEC_PROTOCOL,
    (data) => {
      const frame = parseExecFrame(data);
      if (frame === undefined) return;
      const out =
        frame.channel === ExecChannel.STDOUT
          ? io.stdout
          : frame.channel === ExecChannel.STDERR
            ? io.stderr
            : undefined;
      if (out !== undefined) {
        if (!out.write(frame.payload) && !paused) {
          paused = true;
          ws.pause();
          out.once('drain', () => {
            paused = false;
            ws.resume();
          });
        }
      } else if (frame.channel === ExecChannel.EXIT) status = exitCode(client, frame.payload);
    },
    execQuery(request),
  );
  const raw = request.tty && io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function';
  if (raw) io.stdin.setRawMode?.(true);
  const onData = (chunk: Buffer | string) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    ws.send(execFrame(ExecChannel.STDIN, bytes), { binary: true }, () => {
      if (ws.bufferedAmount < SEND_BUFFER_BYTES / 2) io.stdin.resume();
    });
    if (ws.bufferedAmount > SEND_BUFFER_BYTES) io.stdin.pause();
  };
  const onEnd = () => ws.send(execFrame(ExecChannel.STDIN_EOF), { binary: true });
  io.stdin.on('data', onData);
  io.stdin.once('end', onEnd);
  io.stdin.resume();
  try {
    await closed;
  } finally {
    io.stdin.removeListener('data', onData);
    io.stdin.removeListener('end', onEnd);
    io.stdin.pause();
    if (raw) io.stdin.setRawMode?.(false);
  }
  if (status instanceof AppError) throw status;
  if (status === undefined)
    throw new AppError(
      'Unavailable',
      `daemon at ${client.url}: the exec connection closed before the command's exit status`,
    );
  return status;
}

function exitCode(client: DaemonClient, payload: Buffer): number | AppError {
  try {
    const code = (JSON.parse(payload.toString('utf8')) as { code?: unknown }).code;
    if (typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 255) return code;
  } catch {
    // Reported below.
  }
  return new AppError('Internal', `daemon at ${client.url}: a malformed exit status in exec`);
}
