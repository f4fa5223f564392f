import { EVENT_TYPES, type Event, type EventType } from '../api/index.js';
import type { DaemonClient } from './daemon-client.js';

export { EVENT_TYPES, type EventType };

/** One event as `GET …/events?watch=true` streams it. */
export type DaemonEvent = Event;

export interface EventFilter {
  /** RFC 3339: replay events since then, as far as the daemon keeps them. */
  since?: string;
  /** Only events of these VMs (name or UID). */
  vms?: readonly string[];
  types?: readonly EventType[];
}

/** The daemon's events as they happen, until the stream ends or `signal` aborts. */
export function watchEvents(
  client: DaemonClient,
  filter: EventFilter,
  signal?: AbortSignal,
): AsyncGenerator<DaemonEvent> {
  return client.ndjson<DaemonEvent>('GET', '/events', {
    query: {
      watch: true,
      since: filter.since,
      vm: filter.vms?.length ? filter.vms : undefined,
      type: filter.types?.length ? filter.types.join(',') : undefined,
    },
    ...(signal !== undefined ? { signal } : {}),
  });
}
