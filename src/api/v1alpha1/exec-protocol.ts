/**
 * The wire protocol of `…/vms/{name}/exec`, a WebSocket that runs one command in a VM's guest
 * over SSH on the VM's own host. Every frame is binary; its first byte is the channel and the
 * rest is the payload:
 *
 * - client → daemon: `STDIN` bytes for the command's stdin; `STDIN_EOF` (no payload) closes it.
 * - daemon → client: `STDOUT` and `STDERR` bytes; then one `EXIT` frame whose payload is the JSON
 *   `{"code": N}`, after which the daemon closes the socket normally.
 *
 * A failure before or instead of an exit status (VM not found, not running, SSH not answering)
 * closes the socket with code 4000 + the HTTP status of the error and its message as the reason,
 * as the console socket does.
 */

/** The subprotocol a client asks for. */
export const EXEC_PROTOCOL = 'ignite.exec';

export const ExecChannel = {
  STDIN: 0,
  STDOUT: 1,
  STDERR: 2,
  EXIT: 3,
  STDIN_EOF: 4,
} as const;

export type ExecChannelNumber = (typeof ExecChannel)[keyof typeof ExecChannel];

/** The query of an exec request: `command` repeated (one word is a shell command line), `tty`, `timeout` in seconds. */
export interface ExecRequest {
  command: string[];
  tty: boolean;
  timeoutSeconds: number;
}

/** The longest wait for the guest's SSH server a request may ask for. */
export const MAX_EXEC_TIMEOUT_SECONDS = 600;

export function execFrame(channel: ExecChannelNumber, payload?: Uint8Array): Buffer {
  const head = Buffer.of(channel);
  return payload === undefined || payload.length === 0 ? head : Buffer.concat([head, payload]);
}

/** A frame's channel and payload, or undefined for an empty frame. */
export function parseExecFrame(frame: Buffer): { channel: number; payload: Buffer } | undefined {
  if (frame.length === 0) return undefined;
  return { channel: frame[0] ?? -1, payload: frame.subarray(1) };
}

/** The URL query of a request, by parameter (`command` repeats). */
export function execQuery(r: ExecRequest): Record<string, string | string[]> {
  return {
    command: [...r.command],
    ...(r.tty ? { tty: 'true' } : {}),
    timeout: String(r.timeoutSeconds),
  };
}

/** A request from its URL query, or the reason it is not one. */
export function parseExecQuery(q: URLSearchParams): ExecRequest | string {
  const command = q.getAll('command');
  if (command.some((w) => w.includes('\0'))) return 'command: NUL bytes cannot be passed';
  const tty = q.get('tty') ?? 'false';
  if (tty !== 'true' && tty !== 'false') return `tty: "${tty}" is not true or false`;
  const rawTimeout = q.get('timeout') ?? '10';
  const timeoutSeconds = Number(rawTimeout);
  if (!/^\d+$/.test(rawTimeout) || timeoutSeconds < 1 || timeoutSeconds > MAX_EXEC_TIMEOUT_SECONDS)
    return `timeout: "${rawTimeout}" is not a whole number of seconds from 1 to ${MAX_EXEC_TIMEOUT_SECONDS}`;
  return { command, tty: tty === 'true', timeoutSeconds };
}
