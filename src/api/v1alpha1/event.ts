import { z } from 'zod';
import { TimeSchema, UIDSchema } from '../meta/schema.js';
import { KINDS } from './types.js';

/** The types of Event, as Docker names them. */
export const EVENT_TYPES = [
  'create',
  'start',
  'stop',
  'die',
  'restart',
  'remove',
  'import',
  'snapshot',
  'restore',
] as const;

export const EventTypeSchema = z.enum(EVENT_TYPES).meta({
  description:
    'What happened: a VM was `create`d, `start`ed, `restore`d from a saved state instead of booting, `stop`ped on request, `die`d otherwise, `restart`ed by its policy or `remove`d; an image or kernel was `import`ed (or `remove`d); a snapshot was taken (`snapshot`, once its state is saved) or `remove`d.',
});

export const EventObjectSchema = z
  .strictObject({
    kind: z.enum(KINDS).meta({ description: 'The kind of the object.' }),
    name: z.string().meta({ description: "The object's name." }),
    uid: UIDSchema,
  })
  .meta({ id: 'EventObject', description: 'The object an event is about.' });

export const EventSchema = z
  .strictObject({
    time: TimeSchema.meta({ description: 'When it happened (when the change was seen).' }),
    type: EventTypeSchema,
    object: EventObjectSchema,
    reason: z.string().optional().meta({
      description: "For `stop` and `die`: the VM's last exit reason (`Stopped`, `Crashed`, …).",
    }),
    exitCode: z
      .number()
      .int()
      .optional()
      .meta({ description: "For `die`: the hypervisor's exit status, when it exited." }),
  })
  .meta({
    id: 'Event',
    description:
      'Something that happened to a VM, image, kernel or snapshot (`ignite events`, `GET /events`), derived from the changes of the stored objects.',
  });

export type EventType = z.output<typeof EventTypeSchema>;
export type Event = z.output<typeof EventSchema>;
