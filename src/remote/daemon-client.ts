import http from 'node:http';
import https from 'node:https';
import { AppError, permissionDenied, toAppError, unavailable } from '../errors.js';
import type { DaemonConnection } from './connection.js';
import { ndjsonLines } from './ndjson.js';
import { problemToAppError } from './problem.js';

/** The API's base path: every resource is under it. */
export const API_BASE = '/apis/ignite.weave.works/v1alpha1';

export interface RequestOptions {
  /** Query parameters; a list is sent as the parameter repeated. */
  query?: Record<string, string | boolean | readonly string[] | undefined>;
  /** Sent as JSON. */
  body?: unknown;
  accept?: string;
  signal?: AbortSignal;
}

/** The headers and a path a WebSocket or any other client needs to reach the same daemon. */
export interface Endpoint {
  path: string;
  headers: Record<string, string>;
}

/**
 * An HTTP client of one `ignited`, over its unix socket or TCP (TLS, bearer token). Error answers
 * (`application/problem+json`) are thrown as the AppErrors they stand for; a daemon that does not
 * answer is Unavailable, with a hint to start it.
 */
export class DaemonClient {
  constructor(readonly connection: DaemonConnection) {}

  /** The daemon's address as the user wrote it, for messages. */
  get url(): string {
    return this.connection.address.url;
  }

  /** `path` under the API base with its query string, and the headers every request carries. */
  endpoint(path: string, query: RequestOptions['query'] = {}): Endpoint {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (Array.isArray(v)) for (const item of v as readonly string[]) params.append(k, item);
      else if (v !== undefined) params.set(k, String(v));
    }
    const qs = params.toString();
    const headers: Record<string, string> = {};
    if (this.connection.token !== undefined)
      headers['authorization'] = `Bearer ${this.connection.token}`;
    return { path: `${API_BASE}${path}${qs ? `?${qs}` : ''}`, headers };
  }

  /** Sends a request; resolves with the response once its status is a success. */
  async request(
    method: string,
    path: string,
    o: RequestOptions = {},
  ): Promise<http.IncomingMessage> {
    const { path: fullPath, headers } = this.endpoint(path, o.query);
    const body = o.body === undefined ? undefined : Buffer.from(JSON.stringify(o.body), 'utf8');
    headers['accept'] = o.accept ?? 'application/json';
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(body.length);
    }
    const a = this.connection.address;
    const base: http.RequestOptions = { method, path: fullPath, headers };
    if (o.signal !== undefined) base.signal = o.signal;
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req =
        a.kind === 'unix'
          ? http.request({ ...base, socketPath: a.path }, resolve)
          : a.tls
            ? https.request(
                {
                  ...base,
                  host: a.host,
                  port: a.port,
                  ...(this.connection.ca !== undefined ? { ca: this.connection.ca } : {}),
                },
                resolve,
              )
            : http.request({ ...base, host: a.host, port: a.port }, resolve);
      req.on('error', (err) => reject(this.connectionError(err)));
      req.end(body);
    });
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    const text = await readAll(res).catch(() => '');
    throw problemToAppError(this.url, status, text);
  }

  async json<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const res = await this.request(method, path, o);
    const text = await readAll(res);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new AppError('Internal', `daemon at ${this.url}: ${method} ${path}: not JSON`, {
        cause: err,
      });
    }
  }

  async text(method: string, path: string, o: RequestOptions = {}): Promise<string> {
    return readAll(await this.request(method, path, { accept: 'text/plain', ...o }));
  }

  /** A JSON-lines answer, one value per line, as it arrives. */
  async *ndjson<T>(method: string, path: string, o: RequestOptions = {}): AsyncGenerator<T> {
    const res = await this.request(method, path, { accept: 'application/x-ndjson', ...o });
    try {
      for await (const line of ndjsonLines(res)) yield line as T;
    } finally {
      res.destroy();
    }
  }

  /** Copies an answer's body to `out` as it arrives (logs, `follow`). */
  async pipe(path: string, out: NodeJS.WritableStream, o: RequestOptions = {}): Promise<void> {
    const res = await this.request('GET', path, { accept: 'text/plain', ...o });
    for await (const chunk of res) out.write(chunk as Buffer);
  }

  /** What a failed connection means to the user. */
  connectionError(err: unknown): AppError {
    if (AppError.is(err)) return err;
    const errno = (err as { code?: unknown }).code;
    const where = `daemon at ${this.url}`;
    if (errno === 'ECONNREFUSED' || errno === 'ENOENT')
      return unavailable(`${where}: not reachable`, {
        cause: err,
        hint:
          this.connection.address.kind === 'unix'
            ? 'start it with "ignited daemon" (or "systemctl start ignited")'
            : 'check that ignited listens there (--listen) and that --host names it',
      });
    if (errno === 'EACCES' || errno === 'EPERM')
      return permissionDenied(`${where}: permission denied`, {
        cause: err,
        hint: 'run as root, or as a member of the "ignite" group',
      });
    if (errno === 'ABORT_ERR') return toAppError(err, where);
    return unavailable(`${where}: ${(err as Error).message ?? String(err)}`, { cause: err });
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : c);
  return Buffer.concat(chunks).toString('utf8');
}
