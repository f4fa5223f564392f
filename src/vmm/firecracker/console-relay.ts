import { createWriteStream } from 'node:fs';
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';

/**
 * Firecracker's serial console is its own stdin and stdout; it has no chardev to serve a socket
 * or keep a log. The relay does both, as QEMU's socket chardev with `logfile=` does: everything
 * the guest prints is appended to the log and sent to every client of the console socket, and
 * what any client types goes to the guest.
 */
export interface ConsoleRelay {
  /** Stops serving the socket and flushes the log. */
  close(): Promise<void>;
}

export async function startConsoleRelay(options: {
  output: Readable;
  input: Writable;
  logPath: string;
  socketPath: string;
}): Promise<ConsoleRelay> {
  const log = createWriteStream(options.logPath, { flags: 'a', mode: 0o600 });
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
  options.output.on('data', (d: Buffer) => {
    log.write(d);
    for (const c of clients) c.write(d);
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
      for (const c of clients) c.end();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => log.end(resolve));
      await rm(options.socketPath, { force: true });
    })());
  options.output.once('end', () => void close());
  return { close };
}
