import type { IncomingMessage } from 'node:http';

/**
 * Whether a browser's request comes from a page of the origin it is sent to. Browsers send
 * `Origin` with every WebSocket handshake and every request but a plain GET, and let any page
 * send them to any host; clients that are not browsers send none, and are let through (they
 * authenticate like any other client).
 */
export function sameOrigin(req: Pick<IncomingMessage, 'headers'>): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
