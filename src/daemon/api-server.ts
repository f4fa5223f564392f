import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTLSServer } from 'node:https';
import type { Duplex } from 'node:stream';
import type { Logger } from '../system/logger.js';
import { HTTPError, toProblem } from './http-error.js';
import { sendProblem } from './http-io.js';
import type { Router } from './router.js';
import { sameOrigin } from './same-origin.js';

/** Upgrades (the console WebSocket) go to this hook; it answers or destroys the socket. */
export type UpgradeHandler = (
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  trusted: boolean,
) => void;

/** A server's handling of plain requests besides the API (the web console's files). */
export type FallbackHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface APIServerOptions {
  router: Router;
  logger: Logger;
  /** Clients of this server are trusted like the host's CLI (the unix socket). */
  trusted: boolean;
  /** TLS key and certificate (PEM), for a TCP server. */
  tls?: { key: Buffer; cert: Buffer };
  /** The bearer token every request must carry (TCP). */
  token?: string;
  upgrade?: UpgradeHandler;
  fallback?: FallbackHandler;
  /**
   * Files anyone may fetch, without the token: the web console's page, which asks for the token
   * itself (a browser cannot send one when it loads a page).
   */
  publicFiles?: FallbackHandler;
}

/** How long a client has to send a request's headers, and its whole body. */
export const HEADERS_TIMEOUT_MS = 10_000;
export const REQUEST_TIMEOUT_MS = 15_000;

/**
 * One HTTP (or HTTPS) server over the router. Slow clients are cut off: the headers must arrive
 * within 10 s and the whole request within 15 s (a 408), so a client sending one byte a second
 * holds nothing for long. Answers that stream (watch, logs) are not limited once the request is in.
 */
export function createAPIServer(o: APIServerOptions): Server {
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    void serve(o, req, res);
  };
  // Node checks those deadlines every connectionsCheckingInterval (30 s unless told), which
  // would let a slow client hold its connection twice as long as the deadline says.
  const limits = {
    headersTimeout: HEADERS_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionsCheckingInterval: 1_000,
  };
  const server = o.tls
    ? createTLSServer({ ...limits, key: o.tls.key, cert: o.tls.cert }, handle)
    : createServer(limits, handle);
  server.keepAliveTimeout = 5_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body = JSON.stringify({
      type: 'about:blank',
      title: status === 408 ? 'Request Timeout' : 'Bad Request',
      status,
      detail: status === 408 ? 'the request did not arrive in time' : 'malformed request',
      code: 'HTTP',
    });
    socket.end(
      `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : 'Bad Request'}\r\n` +
        `content-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `connection: close\r\n\r\n${body}`,
    );
  });
  if (o.upgrade) {
    const upgrade = o.upgrade;
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (!authorized(o, req, true)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      upgrade(req, socket, head, o.trusted);
    });
  }
  return server;
}

async function serve(
  o: APIServerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const started = performance.now();
  const abort = new AbortController();
  res.on('close', () => abort.abort());
  try {
    const url = new URL(req.url ?? '/', 'http://ignited');
    const api = url.pathname.startsWith('/apis/');
    if (o.publicFiles && !api && (await o.publicFiles(req, res))) return;
    if (!authorized(o, req, false))
      throw new HTTPError(401, 'a bearer token is required', { 'www-authenticate': 'Bearer' });
    // A page of another site may make a browser send requests here (a stop, say); it may not
    // read the answers, but the request would act. Browsers say whose page sent it.
    if (!sameOrigin(req)) throw new HTTPError(403, `origin ${req.headers.origin}: not allowed`);
    if (o.fallback && !api && (await o.fallback(req, res))) return;
    const { handler, params } = o.router.resolve(req.method ?? 'GET', url.pathname);
    await handler({ req, res, url, params, trusted: o.trusted, signal: abort.signal });
  } catch (err) {
    const { problem } = toProblem(err);
    if (problem.status >= 500)
      o.logger.warn({ err, method: req.method, url: req.url }, 'api: request failed');
    else o.logger.debug({ method: req.method, url: req.url, problem }, 'api: request refused');
    sendProblem(res, err);
  } finally {
    o.logger.debug(
      {
        method: req.method,
        url: req.url,
        status: res.statusCode,
        ms: Math.round(performance.now() - started),
      },
      'api: request',
    );
  }
}

/** Whether the request carries the token (always true when the server needs none). */
function authorized(o: APIServerOptions, req: IncomingMessage, upgrade: boolean): boolean {
  if (o.token === undefined) return true;
  let given: string | undefined;
  const header = req.headers.authorization;
  if (header?.startsWith('Bearer ')) given = header.slice('Bearer '.length).trim();
  if (given === undefined && upgrade) {
    // Browsers cannot set headers on a WebSocket; the token rides as a subprotocol.
    const protocols = String(req.headers['sec-websocket-protocol'] ?? '').split(',');
    const p = protocols.map((s) => s.trim()).find((s) => s.startsWith('ignite.bearer.'));
    if (p !== undefined) given = p.slice('ignite.bearer.'.length);
  }
  if (given === undefined) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(o.token));
}
