import type { IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { OpenAPIContract } from './openapi-contract.js';

/** Where the daemon is: its unix socket, or an `http(s)://host:port` base with its CA and token. */
export type APIEndpoint =
  { socketPath: string } | { url: string; ca?: Buffer | string; token?: string };

export interface APIRequest {
  /** A value sent as JSON, or the raw body (a string or bytes) sent as is. */
  body?: unknown;
  raw?: string | Buffer;
  contentType?: string;
  accept?: string;
  /** Another token than the endpoint's (or none with `null`). */
  token?: string | null;
}

export interface APIResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  // Answers are checked against the spec before a test reads them.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json<T = any>(): T;
}

/** A streamed answer (logs with follow, a watch, an import with progress) while it arrives. */
export interface APIStream extends AsyncDisposable {
  status: number;
  headers: IncomingHttpHeaders;
  text(): string;
  /** Waits until what arrived so far satisfies `done`; fails after `timeoutMs`. */
  waitFor(done: (text: string) => boolean, timeoutMs: number): Promise<string>;
  /** Resolves when the daemon ends the answer. */
  ended(): Promise<string>;
  /** Closes the stream and checks what it received against the spec. */
  close(): void;
}

/**
 * An HTTP client of the daemon's API that checks every answer it gets against api/openapi.json
 * (through the contract), before the test sees it. Connections are not reused, so a restarted
 * daemon is met on a fresh one.
 */
export class APIClient {
  constructor(
    private readonly endpoint: APIEndpoint,
    readonly contract: OpenAPIContract,
  ) {}

  async request(method: string, path: string, o: APIRequest = {}): Promise<APIResponse> {
    const res = await this.send(method, path, o);
    const chunks: Buffer[] = [];
    for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
    const text = Buffer.concat(chunks).toString('utf8');
    const status = res.statusCode ?? 0;
    this.contract.check({
      method,
      url: path,
      status,
      contentType: res.headers['content-type'],
      body: text,
    });
    return { status, headers: res.headers, text, json: () => JSON.parse(text) as never };
  }

  async stream(method: string, path: string, o: APIRequest = {}): Promise<APIStream> {
    const res = await this.send(method, path, o);
    const status = res.statusCode ?? 0;
    let text = '';
    let checked = false;
    res.setEncoding('utf8');
    res.on('data', (s: string) => (text += s));
    const ended = new Promise<string>((resolve) => {
      res.once('end', () => resolve(text));
      res.once('close', () => resolve(text));
    });
    const check = () => {
      if (checked) return;
      checked = true;
      // A stream cut by the client may end in a partial line: only whole lines are checked.
      const ndjson = String(res.headers['content-type'] ?? '').startsWith('application/x-ndjson');
      const body = ndjson ? text.slice(0, text.lastIndexOf('\n') + 1) : text;
      this.contract.check({
        method,
        url: path,
        status,
        contentType: res.headers['content-type'],
        body,
      });
    };
    return {
      status,
      headers: res.headers,
      text: () => text,
      async waitFor(done, timeoutMs) {
        const deadline = Date.now() + timeoutMs;
        while (!done(text)) {
          if (Date.now() > deadline || res.complete || res.destroyed)
            throw new Error(
              `${method} ${path}: the stream did not show what was awaited in ${timeoutMs} ms; it has:\n${text.slice(-3000)}`,
            );
          await new Promise((r) => setTimeout(r, 100));
        }
        return text;
      },
      async ended() {
        const t = await ended;
        check();
        return t;
      },
      close() {
        res.destroy();
        check();
      },
      [Symbol.asyncDispose]: () => {
        res.destroy();
        return Promise.resolve();
      },
    };
  }

  private send(method: string, path: string, o: APIRequest): Promise<IncomingMessage> {
    const body =
      o.raw !== undefined
        ? Buffer.from(o.raw)
        : o.body !== undefined
          ? Buffer.from(JSON.stringify(o.body))
          : undefined;
    const headers: Record<string, string> = {};
    if (body) {
      headers['content-type'] = o.contentType ?? 'application/json';
      headers['content-length'] = String(body.length);
    }
    if (o.accept !== undefined) headers['accept'] = o.accept;
    const e = this.endpoint;
    const token = o.token === undefined && 'url' in e ? e.token : (o.token ?? undefined);
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    return new Promise((resolve, reject) => {
      let req;
      const options: RequestOptions = { method, headers, agent: false };
      if ('socketPath' in e) {
        req = httpRequest({ ...options, socketPath: e.socketPath, path });
      } else {
        const url = new URL(path, e.url);
        const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
        req = send(url, { ...options, ...(e.ca !== undefined ? { ca: e.ca } : {}) });
      }
      req.once('response', resolve);
      req.once('error', reject);
      req.end(body);
    });
  }
}
