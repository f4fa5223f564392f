import { Command } from 'commander';
import { invalidArgument } from '../../errors.js';
import {
  DEFAULT_DAEMON_HOST,
  EVENT_TYPES,
  watchEvents,
  type DaemonEvent,
  type EventFilter,
  type EventType,
} from '../../remote/index.js';
import { systemClock } from '../../system/system-clock.js';
import type { CliContext } from '../context.js';
import { collect, parseDuration } from '../options.js';

interface EventsFlags {
  filter: string[];
  since?: string;
  output: string;
}

/** `--filter vm=NAME`, `--filter type=start` (Docker's `event=` too), each repeatable. */
export function parseEventFilters(filters: readonly string[]): EventFilter {
  const vms: string[] = [];
  const types: EventType[] = [];
  for (const f of filters) {
    const eq = f.indexOf('=');
    const key = eq <= 0 ? '' : f.slice(0, eq).toLowerCase();
    const value = f.slice(eq + 1);
    if (key === 'vm' || key === 'name') vms.push(value);
    else if (key === 'type' || key === 'event') {
      for (const t of value.split(',')) {
        if (!(EVENT_TYPES as readonly string[]).includes(t))
          throw invalidArgument(
            `--filter "${f}": unknown type "${t}" (use ${EVENT_TYPES.join(', ')})`,
          );
        types.push(t as EventType);
      }
    } else throw invalidArgument(`--filter "${f}": expected vm=NAME or type=TYPE`);
  }
  return { ...(vms.length ? { vms } : {}), ...(types.length ? { types } : {}) };
}

/** `--since`: an RFC 3339 time, or a duration ago (`10m`, `2h`). */
export function parseSince(value: string, now: Date): string {
  if (/^\d+(\.\d+)?(ms|s|m|h)$/.test(value.trim()))
    return new Date(now.getTime() - parseDuration(value)).toISOString();
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t))
    throw invalidArgument(
      `--since ${value}: expected an RFC 3339 time (2024-05-01T10:00:00Z) or a duration such as 10m`,
    );
  return new Date(t).toISOString();
}

/** One event as a line: time, kind, type, name, then what else is known, as Docker prints them. */
export function formatEvent(e: DaemonEvent): string {
  const attrs = [
    `uid=${e.object.uid}`,
    ...(e.reason !== undefined ? [`reason=${e.reason}`] : []),
    ...(e.exitCode !== undefined ? [`exitCode=${e.exitCode}`] : []),
  ];
  return `${e.time} ${e.object.kind.toLowerCase()} ${e.type} ${e.object.name} (${attrs.join(', ')})\n`;
}

export function eventsCommand(ctx: CliContext): Command {
  return new Command('events')
    .description(
      `Print what happens to VMs, images and kernels as the daemon sees it, until interrupted (from --host, IGNITE_HOST, or ${DEFAULT_DAEMON_HOST})`,
    )
    .option(
      '-f, --filter <key=value>',
      `vm=NAME, or type=TYPE (${EVENT_TYPES.join(', ')}); repeatable`,
      collect,
      [],
    )
    .option(
      '--since <time>',
      'first replay the events since an RFC 3339 time or a duration ago (10m)',
    )
    .option('-o, --output <format>', 'text (one line an event) or json (one object a line)', 'text')
    .action(async (f: EventsFlags, cmd: Command) => {
      if (f.output !== 'text' && f.output !== 'json')
        throw invalidArgument(`--output ${f.output}: use text or json`);
      const filter: EventFilter = {
        ...parseEventFilters(f.filter),
        ...(f.since !== undefined ? { since: parseSince(f.since, systemClock.now()) } : {}),
      };
      const daemon = await ctx.daemon(cmd, DEFAULT_DAEMON_HOST);
      if (daemon === undefined) return;
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      const offs = [ctx.io.signals.once('SIGINT', stop), ctx.io.signals.once('SIGTERM', stop)];
      try {
        for await (const e of watchEvents(daemon, filter, controller.signal))
          ctx.out(f.output === 'json' ? `${JSON.stringify(e)}\n` : formatEvent(e));
      } catch (err) {
        // Interrupted: the stream ends where the user stopped it.
        if (!controller.signal.aborted) throw err;
      } finally {
        for (const off of offs) off();
      }
    });
}
