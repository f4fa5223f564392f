import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

/** How `attach` reaches a running VM's console: the supervisor's console socket. */
export interface ConsoleConnector {
  /** Connects to the console socket; rejects with the socket's error when nothing answers. */
  connect(socketPath: string): Promise<Duplex>;
}

/** The console over its unix socket. */
export const unixConsoleConnector: ConsoleConnector = {
  connect: (socketPath) =>
    new Promise((resolve, reject) => {
      const sock = connect(socketPath);
      sock.once('connect', () => resolve(sock));
      sock.once('error', reject);
    }),
};
