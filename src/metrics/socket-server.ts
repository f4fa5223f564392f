import { chmod, lstat, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Registry } from 'prom-client';
import { failedPrecondition, toAppError } from '../errors.js';
import type { Logger } from '../system/logger.js';

/** A running metrics endpoint; `close()` stops it and removes what it created. */
export interface MetricsServer {
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A metrics endpoint on a unix socket. */
export interface SocketMetricsServer extends MetricsServer {
  socketPath: string;
}

export interface ServeMetricsOptions {
  /**
   * Permissions of the socket file (default 0600: the supervisor runs as root, and so does
   * `ignite metrics serve`). 0660 lets the file's group scrape too.
   */
  mode?: 0o600 | 0o660;
  logger?: Logger;
}

/**
 * Serves `registry` over HTTP on the unix socket `socketPath`, as Ignite's spawn did at
 * `<dataDir>/vm/<uid>/prometheus.sock`: every path answers GET with the exposition, so
 * `curl --unix-socket <socketPath> http:/metrics` works. A socket file left by a dead server is
 * replaced; one a live server still answers on is refused, as is any file that is not a socket.
 *
 * @example
 * const server = await serveMetrics(registry, paths.metricsSocket);
 * // … on exit:
 * await server.close(); // also removes the socket file
 */
export async function serveMetrics(
  registry: Registry,
  socketPath: string,
  options: ServeMetricsOptions = {},
): Promise<SocketMetricsServer> {
  await removeStaleSocket(socketPath);
  const server = createServer((req, res) => {
    void answerMetrics(registry, req, res, options.logger);
  });
  await listen(server, socketPath);
  // The socket is created with the umask's permissions; narrowed at once. Its directory (the
  // VM's, under the data dir) is not writable by others, so nobody can swap the file meanwhile.
  await chmod(socketPath, options.mode ?? 0o600);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= closeServer(server).finally(() => rm(socketPath, { force: true }));
    return closing;
  };
  return { socketPath, close, [Symbol.asyncDispose]: close };
}

/** Answers GET and HEAD with the registry's exposition, whatever the path. */
export async function answerMetrics(
  registry: Registry,
  req: IncomingMessage,
  res: ServerResponse,
  logger?: Logger,
): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end();
    return;
  }
  try {
    const body = await registry.metrics();
    res.writeHead(200, { 'content-type': registry.contentType });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    logger?.warn({ err }, `metrics: collecting failed: ${toAppError(err).message}`);
    res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting metrics failed\n');
  }
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(socketPath)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw toAppError(err, `metrics socket ${socketPath}`);
  }
  if (!isSocket) {
    throw failedPrecondition(`metrics socket ${socketPath}: exists and is not a socket`, {
      hint: 'remove the file if nothing needs it',
    });
  }
  if (await answers(socketPath)) {
    throw failedPrecondition(`metrics socket ${socketPath}: another server is listening on it`, {
      hint: 'is another supervisor running for this VM?',
    });
  }
  await rm(socketPath, { force: true });
}

/** Whether something accepts connections on the socket; a server too busy to answer counts. */
function answers(socketPath: string, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path: socketPath });
    const done = (alive: boolean): void => {
      socket.destroy();
      resolve(alive);
    };
    socket.setTimeout(timeoutMs, () => done(true));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? failedPrecondition(`metrics socket ${path}: already in use`, { cause: err })
          : toAppError(err, `metrics socket ${path}`),
      );
    });
    server.listen(path, () => resolve());
  });
}

/**
 * Stops accepting and resolves once every connection is gone: idle keep-alive ones are dropped
 * at once, requests under way get a moment to finish.
 */
export function closeServer(server: Server, graceMs = 1_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
