import type { ServerResponse } from 'node:http';
import {
  API_VERSION,
  parseLabelSelector,
  toPlain,
  type Event,
  type Kind,
} from '../../api/index.js';
import { invalidArgument } from '../../errors.js';
import {
  ExpiredVersionError,
  type Change,
  type Subscription,
} from '../../operations/change-feed.js';
import {
  eventsOf,
  matchesEventFilter,
  parseEventTime,
  parseEventTypes,
  type EventFilter,
} from '../../operations/vm-events.js';
import type { DaemonContext } from '../daemon-context.js';
import { HTTPError } from '../http-error.js';
import { sendJSON, startJSONLines, type JSONLines } from '../http-io.js';
import { API_BASE, type RouteContext, type Router } from '../router.js';

/** A watcher this far behind (bytes not yet sent) is dropped rather than buffered without end. */
const MAX_BEHIND_BYTES = 4 * 1024 * 1024;

/**
 * Streams the kind's changes as JSON lines until the client goes: `{type, resourceVersion,
 * object}`. From `?resourceVersion=N`, every change after N (410 when the feed no longer has
 * them); without it, an ADDED for every current object first.
 */
export function watchKind(c: RouteContext, d: DaemonContext, kind: Kind): Promise<void> {
  const select = parseLabelSelector(c.url.searchParams.get('labelSelector') ?? '');
  const from = c.url.searchParams.get('resourceVersion');
  const version = from === null || from === '' ? undefined : parseVersion(from);
  return stream(c, (send) => {
    try {
      return [
        d.feed.subscribe(kind, version, (ch: Change) => {
          if (!select(ch.object.metadata.labels)) return;
          send({
            type: ch.type,
            resourceVersion: String(ch.resourceVersion),
            object: toPlain(ch.object),
          });
        }),
      ];
    } catch (err) {
      if (err instanceof ExpiredVersionError) throw new HTTPError(410, err.message);
      throw err;
    }
  });
}

/** `/events`: what happened to VMs, images, kernels, snapshots and volumes, as a list or (`?watch=true`) a stream. */
export function eventRoutes(router: Router, d: DaemonContext): void {
  router.add('GET', `${API_BASE}/events`, (c) => {
    const filter = eventFilter(c.url);
    const watch = c.url.searchParams.get('watch');
    // History is replayed when asked for (`since`, or a plain list); a watch otherwise starts now.
    const replay = filter.since !== undefined || watch !== 'true';
    const subscribeAll = (fn: (e: Event) => void): Subscription[] =>
      (['VM', 'Image', 'Kernel', 'Snapshot', 'Volume'] as const).map((kind) =>
        d.feed.subscribe(kind, replay ? d.feed.oldestVersion(kind) : d.feed.version(kind), (ch) => {
          for (const e of eventsOf(ch)) if (matchesEventFilter(filter, e)) fn(e);
        }),
      );
    if (watch === 'true') return stream(c, (send) => subscribeAll(send));
    const items: Event[] = [];
    for (const sub of subscribeAll((e) => items.push(e))) sub.close();
    items.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    sendJSON(c.res, 200, { apiVersion: API_VERSION, kind: 'EventList', items });
    return Promise.resolve();
  });
}

function eventFilter(url: URL): EventFilter {
  const q = url.searchParams;
  const vms = q.getAll('vm').filter((v) => v !== '');
  const types = q.getAll('type').flatMap((t) => parseEventTypes(t));
  const since = q.get('since');
  return {
    ...(vms.length > 0 ? { vms } : {}),
    ...(types.length > 0 ? { types } : {}),
    ...(since !== null && since !== '' ? { since: parseEventTime(since) } : {}),
  };
}

function parseVersion(text: string): number {
  if (!/^\d{1,20}$/.test(text))
    throw invalidArgument(`resourceVersion "${text}": expected a number from a list or a watch`);
  return Number(text);
}

/**
 * Answers with a JSON-lines stream fed by `subscribe` until the client goes or falls too far
 * behind; subscriptions are closed either way. What `subscribe` throws is answered as an error.
 */
function stream(
  c: RouteContext,
  subscribe: (send: (value: unknown) => void) => Subscription[],
): Promise<void> {
  const res: ServerResponse = c.res;
  // Subscribing first: a refusal (410) is still a plain answer; what comes meanwhile waits here.
  let pending: unknown[] | undefined = [];
  const out: { lines?: JSONLines } = {};
  const send = (value: unknown) => {
    if (out.lines === undefined) {
      pending?.push(value);
      return;
    }
    out.lines.write(value);
    if (res.writableLength > MAX_BEHIND_BYTES) res.destroy();
  };
  const subs = subscribe(send);
  out.lines = startJSONLines(res);
  const held = pending;
  pending = undefined;
  for (const v of held) send(v);
  return new Promise((resolve) => {
    const done = () => {
      for (const s of subs) s.close();
      resolve();
    };
    if (c.signal.aborted) done();
    else c.signal.addEventListener('abort', done, { once: true });
  });
}
