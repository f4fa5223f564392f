import type { IncomingMessage, ServerResponse } from 'node:http';
import { HTTPError } from './http-error.js';

/** Where the API's objects live, as Kubernetes groups them. */
export const API_BASE = '/apis/ignite.weave.works/v1alpha1';

/** What a route gets: the exchange, its path parameters, and who is asking. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Readonly<Record<string, string>>;
  /**
   * Whether the client is trusted like the host's own CLI (the unix socket, whose mode and
   * group limit it to root and the `ignite` group), or like a manifest from a repository (TCP).
   */
  trusted: boolean;
  /** Aborted when the client goes away, so a stream or a wait can stop. */
  signal: AbortSignal;
}

export type Handler = (ctx: RouteContext) => Promise<void>;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

interface Route {
  method: Method;
  pattern: RegExp;
  names: string[];
  handler: Handler;
}

/**
 * Method and path to handler. A pattern is a path with `{param}` segments, each matching one
 * non-empty segment (decoded). A path that matches with another method is a 405 with `Allow`.
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: Method, path: string, handler: Handler): this {
    const names: string[] = [];
    const source = path
      .split('/')
      .map((seg) => {
        const m = /^\{(\w+)\}$/.exec(seg);
        if (!m?.[1]) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        names.push(m[1]);
        return '([^/]+)';
      })
      .join('/');
    this.routes.push({ method, pattern: new RegExp(`^${source}/?$`), names, handler });
    return this;
  }

  /** The handler and parameters for a request; throws 404 or 405 when there is none. */
  resolve(method: string, pathname: string): { handler: Handler; params: Record<string, string> } {
    const allowed: string[] = [];
    for (const r of this.routes) {
      const m = r.pattern.exec(pathname);
      if (!m) continue;
      const wanted = method === 'HEAD' ? 'GET' : method;
      if (r.method !== wanted) {
        allowed.push(r.method);
        continue;
      }
      const params: Record<string, string> = {};
      r.names.forEach((name, i) => {
        params[name] = decodeSegment(m[i + 1] ?? '');
      });
      return { handler: r.handler, params };
    }
    if (allowed.length > 0)
      throw new HTTPError(405, `${method} ${pathname}: method not allowed`, {
        allow: [...new Set(allowed)].join(', '),
      });
    throw new HTTPError(404, `${pathname}: no such path`);
  }
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HTTPError(400, `path segment "${s}": bad percent-encoding`);
  }
}
