import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AppError } from '../errors.js';
import {
  ConsoleSocket,
  type ConsoleSocketOptions,
  type ConsoleSocketServices,
} from './console-socket.js';
import { ExecSocket, type ExecSocketServices } from './exec-socket.js';
import { vmOfSocketPath } from './socket-kit.js';

const NOT_FOUND = 'HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

/** The daemon's WebSockets: a VM's console (`…/vms/{name}/console`) and exec (`…/exec`). */
export class VMSockets {
  readonly console: ConsoleSocket;
  readonly exec: ExecSocket;

  constructor(
    s: ConsoleSocketServices & ExecSocketServices,
    options: ConsoleSocketOptions & { statusOf: (err: AppError) => number },
  ) {
    this.console = new ConsoleSocket(s, options);
    this.exec = new ExecSocket(s, options.statusOf);
  }

  /** Takes over an authenticated HTTP upgrade; a path that is neither socket gets a 404. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = new URL(req.url ?? '/', 'http://ignited').pathname;
    const consoleOf = vmOfSocketPath(path, 'console');
    if (consoleOf !== undefined) return this.console.handleUpgrade(req, socket, head, consoleOf);
    const execOf = vmOfSocketPath(path, 'exec');
    if (execOf !== undefined) return this.exec.handleUpgrade(req, socket, head, execOf);
    socket.end(NOT_FOUND);
  }

  close(): void {
    this.console.close();
    this.exec.close();
  }
}
