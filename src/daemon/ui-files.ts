import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** A file of the web console: the URL path it is served at, its name in dist/ui/, its type. */
interface UIFile {
  name: string;
  type: string;
}

/**
 * Every file the console is made of, by URL path: nothing else is served, so no request path
 * ever names a file on disk.
 */
const UI_FILES: ReadonlyMap<string, UIFile> = new Map([
  ['/', { name: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/ui/', { name: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/ui/index.html', { name: 'index.html', type: 'text/html; charset=utf-8' }],
  ['/ui/app.js', { name: 'app.js', type: 'text/javascript; charset=utf-8' }],
  ['/ui/app.css', { name: 'app.css', type: 'text/css; charset=utf-8' }],
  ['/ui/xterm.css', { name: 'xterm.css', type: 'text/css; charset=utf-8' }],
]);

/**
 * The page may load only its own files and talk only to its own origin (the API and the console
 * WebSocket); xterm.js styles its elements inline. It may not be framed, so no other site can
 * overlay its buttons.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Whether a request path is the web console's (`/` and `/ui/…`): the server hands those here. */
export function isUIPath(pathname: string): boolean {
  return pathname === '/' || pathname === '/ui' || pathname.startsWith('/ui/');
}

interface Loaded {
  body: Buffer;
  etag: string;
}

/**
 * Serves the web console's static files. They are read once, on first use, through `read` (by
 * file name: src/system/packaging.ts finds dist/ui/ or the single executable's assets), and
 * served with an ETag: the browser revalidates each time (`no-cache`) and mostly gets a 304.
 */
export class UIFiles {
  private readonly loaded = new Map<string, Loaded | undefined>();

  constructor(private readonly read: (name: string) => Buffer | undefined) {}

  /** Answers a request for the web console; false (nothing answered) for any other path. */
  serve(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (!isUIPath(pathname)) return Promise.resolve(false);
    this.handle(req, res);
    return Promise.resolve(true);
  }

  /** Answers a request for a path `isUIPath` accepted. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      problem(res, 405, 'Method Not Allowed', `${req.method ?? ''} ${pathname}: not allowed`);
      return;
    }
    if (pathname === '/ui') {
      res.writeHead(308, { Location: '/ui/', 'Content-Length': 0 }).end();
      return;
    }
    const file = UI_FILES.get(pathname);
    const found = file === undefined ? undefined : this.load(file.name);
    if (file === undefined || found === undefined) {
      const detail =
        file === undefined
          ? `${pathname}: not found`
          : `web console: ${file.name} is not built (npm run build)`;
      problem(res, 404, 'Not Found', detail, 'NotFound');
      return;
    }
    const headers: Record<string, string | number> = {
      'Content-Type': file.type,
      'Cache-Control': 'no-cache',
      ETag: found.etag,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    };
    if (file.name === 'index.html') {
      headers['Content-Security-Policy'] = CONTENT_SECURITY_POLICY;
      headers['X-Frame-Options'] = 'DENY';
    }
    if (matches(req.headers['if-none-match'], found.etag)) {
      res.writeHead(304, headers).end();
      return;
    }
    headers['Content-Length'] = found.body.length;
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : found.body);
  }

  private load(name: string): Loaded | undefined {
    if (this.loaded.has(name)) return this.loaded.get(name);
    const body = this.read(name);
    const loaded =
      body === undefined
        ? undefined
        : { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    // A file missing now may be built later; only what was found is kept.
    if (loaded !== undefined) this.loaded.set(name, loaded);
    return loaded;
  }
}

/** Whether an If-None-Match header names `etag` (or is `*`). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header
    .split(',')
    .map((t) => t.trim().replace(/^W\//, ''))
    .some((t) => t === '*' || t === etag);
}

function problem(
  res: ServerResponse,
  status: number,
  title: string,
  detail: string,
  code?: string,
): void {
  const body = JSON.stringify({
    type: 'about:blank',
    title,
    status,
    detail,
    ...(code !== undefined ? { code } : {}),
  });
  res.writeHead(status, {
    'Content-Type': 'application/problem+json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
