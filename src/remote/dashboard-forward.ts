import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { invalidArgument, unavailable } from '../errors.js';

export { DEFAULT_DAEMON_HOST } from './address.js';

/** The unix socket of a `unix:///path` daemon address. */
export function unixSocketOf(host: string, flag = '--host'): string {
  if (host.startsWith('unix://')) {
    const path = host.slice('unix://'.length);
    if (path.startsWith('/')) return path;
  }
  if (/^(tcp|https?):\/\//.test(host))
    throw invalidArgument(
      `${flag} ${host}: the dashboard forwards the daemon's unix socket; a daemon on TCP serves the console itself`,
      { hint: 'open its https:// address in a browser' },
    );
  throw invalidArgument(`${flag} ${host}: expected unix:///path/to/ignited.sock`);
}

/** A loopback port forwarded to the daemon's socket. */
export interface DashboardForward {
  /** `http://127.0.0.1:<port>/`, where the web console is. */
  url: string;
  port: number;
  /** Stops listening and cuts every forwarded connection. */
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 (`port`, or any free one when 0) and forwards each connection, byte for
 * byte and both ways, to the daemon's unix socket: the browser reaches the daemon as a client of
 * its socket would. Checks first that a daemon answers there.
 */
export async function forwardToDaemon(socketPath: string, port = 0): Promise<DashboardForward> {
  await checkDaemon(socketPath);
  const open = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({ path: socketPath, allowHalfOpen: true });
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', () => {
      open.delete(client);
      if (upstream.writableEnded) upstream.destroy();
    });
    upstream.on('close', () => {
      open.delete(upstream);
      client.destroy();
    });
    // pipe() ends each side when the other ends, so a half-close passes through.
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? invalidArgument(`--port ${port}: already in use on 127.0.0.1`)
          : err,
      ),
    );
    server.listen({ host: '127.0.0.1', port }, resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
      }),
  };
}

/** Asks the daemon's `/healthz`; a daemon that is not there is a clear Unavailable error. */
function checkDaemon(socketPath: string, timeoutMs = 5000): Promise<void> {
  const fail = (why: string) =>
    unavailable(`daemon unix://${socketPath}: not reachable: ${why}`, {
      hint: 'start it with `ignited daemon`, or point --host (or IGNITE_HOST) at its socket',
    });
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/healthz', timeout: timeoutMs }, (res) => {
      res.resume();
      if (res.statusCode === 200) resolve();
      else reject(fail(`/healthz answered ${res.statusCode}`));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err: NodeJS.ErrnoException) => reject(fail(err.code ?? err.message)));
    req.end();
  });
}
