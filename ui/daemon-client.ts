import { LineSplitter } from './ndjson.js';
import type { TokenStore } from './token.js';

/** The daemon's API, on the origin that served the page. */
export const API = '/apis/ignite.weave.works/v1alpha1';

/** The subprotocol of the console WebSocket; a bearer token rides as a second one. */
export const CONSOLE_PROTOCOL = 'ignite.console';
const BEARER_PROTOCOL = 'ignite.bearer.';

/** The daemon asked for a token (401) the page has not got, or has got wrong. */
export class AuthRequired extends Error {}

/** The daemon answered a watch with something else than a stream of changes. */
export class WatchUnsupported extends Error {}

/** A failed call, with the daemon's problem detail (application/problem+json) as its message. */
export class APIError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** A change from a watch: `{type, object}` (src/daemon's watch, one JSON line each). */
export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: T;
}

/** What the page reads of a VM (as `ignite inspect -o json` prints it); all else is ignored. */
export interface VMView {
  metadata: { name: string; uid: string; resourceVersion?: string };
  status?: {
    state?: string;
    ipAddresses?: string[];
    startTime?: string;
    restartCount?: number;
  };
}

export interface VMList {
  metadata?: { resourceVersion?: string };
  items: VMView[];
}

/** The daemon's API as the page uses it: fetch with the bearer token when the page may send one. */
export class DaemonClient {
  constructor(private readonly tokens: TokenStore) {}

  private async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const token = this.tokens.get();
    if (token !== undefined) headers.set('Authorization', `Bearer ${token}`);
    const res = await fetch(path, { ...init, headers, credentials: 'omit' });
    if (res.status === 401) throw new AuthRequired(await problemOf(res));
    if (!res.ok) throw new APIError(await problemOf(res), res.status);
    return res;
  }

  async json<T>(method: string, path: string): Promise<T> {
    const res = await this.fetch(path, { method, headers: { Accept: 'application/json' } });
    return (await res.json()) as T;
  }

  async text(path: string): Promise<string> {
    return (await this.fetch(path)).text();
  }

  /**
   * Reads a watch (`?watch=true`), calling `onEvent` with each change. Resolves when the daemon
   * ends the stream; throws WatchUnsupported when the answer is not a stream of changes.
   */
  async watch<T>(path: string, onEvent: (e: WatchEvent<T>) => void): Promise<void> {
    const res = await this.fetch(path, { headers: { Accept: 'application/x-ndjson' } });
    if (!(res.headers.get('content-type') ?? '').startsWith('application/x-ndjson')) {
      await res.body?.cancel();
      throw new WatchUnsupported('the daemon does not stream changes');
    }
    if (res.body === null) return;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const lines = new LineSplitter();
    for (;;) {
      const { done, value } = await reader.read();
      for (const line of done ? lines.end() : lines.push(value))
        onEvent(JSON.parse(line) as WatchEvent<T>);
      if (done) return;
    }
  }

  /** A WebSocket to a running VM's serial console (binary frames both ways). */
  console(name: string): WebSocket {
    const url = new URL(`${API}/vms/${encodeURIComponent(name)}/console`, location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const token = this.tokens.get();
    const protocols = [CONSOLE_PROTOCOL];
    if (token !== undefined) protocols.push(`${BEARER_PROTOCOL}${token}`);
    const ws = new WebSocket(url, protocols);
    ws.binaryType = 'arraybuffer';
    return ws;
  }
}

/** The problem's detail, else its title, else the HTTP status line. */
async function problemOf(res: Response): Promise<string> {
  const fallback = `${res.status} ${res.statusText}`.trim();
  try {
    const p = (await res.json()) as { detail?: unknown; title?: unknown };
    if (typeof p.detail === 'string' && p.detail !== '') return p.detail;
    if (typeof p.title === 'string' && p.title !== '') return p.title;
  } catch {
    // Not JSON: the status says enough.
  }
  return fallback;
}
