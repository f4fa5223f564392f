import { z } from 'zod';
import { TimeSchema, UIDSchema } from '../meta/schema.js';
import { KINDS } from './types.js';

/**
 * An event of `ignite events` and `GET /events`: something that happened to a VM, image or
 * kernel, derived from the change feed.
 */
export const EVENT_TYPES = [
  'create',
  'start',
  'stop',
  'die',
  'restart',
  'remove',
  'import',
] as const;

export const EventSchema = z
  .strictObject({
    time: TimeSchema,
    type: z.enum(EVENT_TYPES).meta({
      description:
        '`create`, `start`, `stop` (asked to stop or kill), `die` (the hypervisor ended otherwise), `restart` (by its restart policy), `remove`, `import` (an image or kernel).',
    }),
    object: z.strictObject({ kind: z.enum(KINDS), name: z.string(), uid: UIDSchema }),
    reason: z.string().optional().meta({
      description: 'Why a VM stopped or died: `Stopped`, `Killed`, `PoweredOff`, `Crashed`.',
    }),
    exitCode: z.number().int().optional().meta({ description: "The hypervisor's exit status." }),
  })
  .meta({ id: 'Event', description: 'Something that happened to an object.' });

export type Event = z.output<typeof EventSchema>;
export type EventType = (typeof EVENT_TYPES)[number];
