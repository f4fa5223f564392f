import { chmod, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { internal } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { DEFAULT_CONSOLE_LOG_MAX_BYTES, RotatingLog } from './rotating-log.js';
import type { VMConfig } from './vmm-driver.js';

/**
 * The serial console of a VM, as the supervisor serves it: the hypervisor's console is its own
 * stdin and stdout, and the relay appends everything the guest prints to the log (rotated at
 * its cap) and sends it to every client of the console socket; what any client types goes to
 * the guest. The guest is never held up by a client: one that falls more than
 * `clientBufferBytes` behind is disconnected with a message, so memory stays bounded.
 */
export interface ConsoleRelay {
  /** Stops serving the socket and closes the log. */
  close(): Promise<void>;
}

/** How far (bytes queued for it) an attached client may fall behind before it is dropped. */
export const CONSOLE_CLIENT_BUFFER_BYTES = 1024 * 1024;

export const SLOW_CLIENT_MESSAGE =
  '\r\n[ignite: console client disconnected: it stopped reading the output]\r\n';

export async function startConsoleRelay(options: {
  output: Readable;
  input: Writable;
  logPath: string;
  socketPath: string;
  /** Cap of the console log before it is rotated (default 10 MiB). */
  logMaxBytes?: number;
  clientBufferBytes?: number;
  /** Told when a slow client is dropped, for the supervisor's log. */
  onSlowClient?: () => void;
}): Promise<ConsoleRelay> {
  const log = new RotatingLog(
    options.logPath,
    options.logMaxBytes ?? DEFAULT_CONSOLE_LOG_MAX_BYTES,
  );
  const limit = options.clientBufferBytes ?? CONSOLE_CLIENT_BUFFER_BYTES;
  const clients = new Set<Socket>();
  // Typing into a console whose hypervisor has just exited is not an error worth a crash.
  options.input.on('error', () => undefined);
  const server = createServer((sock) => {
    clients.add(sock);
    sock.on('data', (d: Buffer) => {
      if (options.input.writable) options.input.write(d);
    });
    sock.on('close', () => clients.delete(sock));
    sock.on('error', () => sock.destroy());
  });
  const drop = (sock: Socket) => {
    clients.delete(sock);
    options.onSlowClient?.();
    // The message is queued behind what it did not read; it gets a moment, then the socket goes.
    sock.end(SLOW_CLIENT_MESSAGE);
    setTimeout(() => sock.destroy(), 2000).unref();
  };
  let logFailed = false;
  options.output.on('data', (d: Buffer) => {
    if (!logFailed) {
      try {
        log.write(d);
      } catch {
        // A full disk must not stop the console: the log stops, the clients go on.
        logFailed = true;
      }
    }
    for (const c of clients) {
      if (c.writableLength > limit) drop(c);
      else c.write(d);
    }
  });

  await rm(options.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.socketPath, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });
  await chmod(options.socketPath, 0o600);

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      for (const c of clients) {
        c.end();
        setTimeout(() => c.destroy(), 1000).unref();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
      log.close();
      await rm(options.socketPath, { force: true });
    })());
  options.output.once('end', () => void close());
  return { close };
}

/**
 * Serves a hypervisor started with its console on stdio as the VM's console: the log and socket
 * of `config.paths`, capped as the VM asks, and a dropped client noted in the supervisor's log.
 */
export function relayHypervisorConsole(
  child: { stdout: Readable | null; stdin: Writable | null },
  config: Pick<VMConfig, 'name' | 'paths' | 'consoleLogMaxBytes'>,
  label: string,
  logger: Logger | undefined,
): Promise<ConsoleRelay> {
  const { stdout, stdin } = child;
  if (stdout === null || stdin === null) throw internal(`${label}: the hypervisor has no stdio`);
  return startConsoleRelay({
    output: stdout,
    input: stdin,
    logPath: config.paths.consoleLog,
    socketPath: config.paths.consoleSocket,
    ...(config.consoleLogMaxBytes !== undefined ? { logMaxBytes: config.consoleLogMaxBytes } : {}),
    onSlowClient: () =>
      logger?.warn({ vm: config.name }, `${label}: dropped a console client that stopped reading`),
  });
}
