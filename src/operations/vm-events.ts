import {
  EVENT_TYPES,
  type Event,
  type EventType,
  type Kind,
  type StoredKindMap,
  type StoredVM,
  type VMExit,
} from '../api/index.js';
import { invalidArgument } from '../errors.js';
import type { Change } from './change-feed.js';

/** What eventsOf needs of a change: its type, when it was seen, the object after and before. */
export type ObjectChange = Pick<Change<Kind>, 'type' | 'time'> & {
  object: StoredKindMap[Kind];
  old?: StoredKindMap[Kind];
};

/**
 * The events one change of a stored object means, in the order they happened:
 * - a VM ADDED is `create` (and `start` when it is already Running);
 * - a VM that comes to run is `start`, or `restart` when its restart count rose;
 * - a VM that stops running is `stop` when its last exit was asked for (Stopped, Killed), else
 *   `die`, with the exit's reason and code;
 * - both at once (a VM seen Running before and after, with a new exit or start between) is the
 *   exit, then the start;
 * - a VM that comes to run from a saved state (`status.runtime.restored`) is `restore`, not
 *   `start`;
 * - DELETED is `remove`; an Image or Kernel ADDED is `import`, a Volume ADDED `create`; a Snapshot is `snapshot` once its
 *   state is saved (`status.created` appears: it is stored before the save, as a guard).
 */
export function eventsOf(change: ObjectChange): Event[] {
  const { object } = change;
  const event = (type: EventType, extra: Pick<Event, 'reason' | 'exitCode'> = {}): Event => ({
    time: change.time,
    type,
    object: { kind: object.kind, name: object.metadata.name, uid: object.metadata.uid },
    ...extra,
  });
  if (change.type === 'DELETED') return [event('remove')];
  if (object.kind === 'Snapshot') {
    const before =
      change.type === 'MODIFIED' && change.old?.kind === 'Snapshot' ? change.old : undefined;
    const saved = object.status.created !== undefined && before?.status.created === undefined;
    return saved ? [event('snapshot')] : [];
  }
  if (object.kind === 'Volume') return change.type === 'ADDED' ? [event('create')] : [];
  if (object.kind !== 'VM') return change.type === 'ADDED' ? [event('import')] : [];
  const old = change.type === 'MODIFIED' && change.old?.kind === 'VM' ? change.old : undefined;
  const out: Event[] = [];
  if (change.type === 'ADDED') out.push(event('create'));
  const wasRunning = old?.status.state === 'Running';
  const isRunning = object.status.state === 'Running';
  const exit = freshExit(old, object);
  if (wasRunning && (!isRunning || exit !== undefined)) out.push(exitEvent(exit, event));
  const restarted = (object.status.restartCount ?? 0) > (old?.status.restartCount ?? 0);
  const startedAgain = old !== undefined && old.status.startTime !== object.status.startTime;
  if (isRunning && (!wasRunning || restarted || startedAgain)) {
    const restored = object.status.runtime?.restored === true;
    out.push(event(restarted && old !== undefined ? 'restart' : restored ? 'restore' : 'start'));
  }
  return out;
}

/** The VM's last exit when this change wrote it; an exit already there is an earlier run's. */
function freshExit(old: StoredVM | undefined, vm: StoredVM): VMExit | undefined {
  const exit = vm.status.lastExit;
  if (exit === undefined) return undefined;
  const before = old?.status.lastExit;
  return before?.time === exit.time && before.reason === exit.reason ? undefined : exit;
}

function exitEvent(
  exit: VMExit | undefined,
  event: (type: EventType, extra?: Pick<Event, 'reason' | 'exitCode'>) => Event,
): Event {
  const asked = exit?.reason === 'Stopped' || exit?.reason === 'Killed';
  return event(asked ? 'stop' : 'die', {
    ...(exit === undefined ? {} : { reason: exit.reason }),
    ...(exit?.exitCode === undefined ? {} : { exitCode: exit.exitCode }),
  });
}

/** Which events a watcher of events wants; an absent field lets every event through. */
export interface EventFilter {
  /** VMs by name or UID: only events of these VMs. */
  vms?: readonly string[];
  types?: readonly EventType[];
  /** Only events at or after this time. */
  since?: Date;
}

/** Whether `event` passes `filter`. */
export function matchesEventFilter(filter: EventFilter, event: Event): boolean {
  if (filter.types !== undefined && !filter.types.includes(event.type)) return false;
  if (filter.since !== undefined && Date.parse(event.time) < filter.since.getTime()) return false;
  if (filter.vms !== undefined) {
    const { kind, name, uid } = event.object;
    if (kind !== 'VM' || !filter.vms.some((v) => v === name || v === uid)) return false;
  }
  return true;
}

/** Parses a comma-separated list of event types (`start,die`), refusing unknown ones. */
export function parseEventTypes(list: string): EventType[] {
  const types = list
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t !== '');
  const unknown = types.filter((t) => !(EVENT_TYPES as readonly string[]).includes(t));
  if (unknown.length > 0)
    throw invalidArgument(`event type "${unknown.join(', ')}": unknown`, {
      hint: `use one or more of ${EVENT_TYPES.join(', ')}`,
    });
  return types as EventType[];
}

/** Parses an RFC 3339 time for `since`. */
export function parseEventTime(text: string): Date {
  const ms = Date.parse(text);
  if (!/^\d{4}-\d\d-\d\dT/.test(text) || Number.isNaN(ms))
    throw invalidArgument(`time "${text}": not an RFC 3339 time`, {
      hint: 'for example 2026-01-02T15:04:05Z',
    });
  return new Date(ms);
}
