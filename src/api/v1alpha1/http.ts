import { z } from 'zod';
import { EventSchema } from './event.js';
import { ERROR_CODES } from '../../errors.js';
import { UIDSchema } from '../meta/schema.js';
import { SnapshotSchema } from './snapshot.js';
import { API_VERSION, ImageSchema, KernelSchema, KINDS, VMSchema } from './types.js';

/**
 * What the daemon's HTTP API sends and receives besides the objects themselves: lists, watch
 * events, the Status of a delete, problem documents, import progress lines and action options.
 * `api/openapi.json` is generated from these schemas, and the API's contract test checks every
 * answer against it.
 */

export const ListMetaSchema = z
  .strictObject({
    resourceVersion: z.string().regex(/^\d+$/).meta({
      description:
        'The change feed version the list was taken at; opaque to clients, who give it back as `?resourceVersion=` to watch the changes after it.',
    }),
  })
  .meta({ id: 'ListMeta', description: 'Metadata of a list.' });

function listOf<T extends z.ZodType>(kind: string, item: T) {
  return z
    .strictObject({
      apiVersion: z.literal(API_VERSION),
      kind: z.literal(`${kind}List`),
      metadata: ListMetaSchema,
      items: z.array(item),
    })
    .meta({ id: `${kind}List`, description: `Every ${kind} the selector chose, as stored.` });
}

export const EventListSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('EventList'),
    items: z.array(EventSchema),
  })
  .meta({ id: 'EventList', description: 'The events the daemon keeps, oldest first.' });

export const VMListSchema = listOf('VM', VMSchema);
export const ImageListSchema = listOf('Image', ImageSchema);
export const KernelListSchema = listOf('Kernel', KernelSchema);
export const SnapshotListSchema = listOf('Snapshot', SnapshotSchema);

export const WatchEventTypeSchema = z.enum(['ADDED', 'MODIFIED', 'DELETED']).meta({
  id: 'WatchEventType',
  description:
    'What happened to the object: `ADDED` (created, or present when the watch began), `MODIFIED`, `DELETED` (the object as it was last).',
});

function watchEventOf<T extends z.ZodType>(kind: string, object: T) {
  return z
    .strictObject({
      type: WatchEventTypeSchema,
      resourceVersion: z.string().regex(/^\d+$/).meta({
        description: 'The version of this change: watch again from it to resume after it.',
      }),
      object,
    })
    .meta({ id: `${kind}WatchEvent`, description: `One line of a watch of ${kind}s.` });
}

export const VMWatchEventSchema = watchEventOf('VM', VMSchema);
export const ImageWatchEventSchema = watchEventOf('Image', ImageSchema);
export const KernelWatchEventSchema = watchEventOf('Kernel', KernelSchema);

export const FieldProblemSchema = z
  .strictObject({
    path: z.string().meta({ description: 'The field, as `.spec.memory` or `.items[0].name`.' }),
    message: z.string(),
  })
  .meta({ id: 'FieldProblem', description: 'One problem of a request body, at its field path.' });

export const ProblemSchema = z
  .strictObject({
    type: z.literal('about:blank'),
    title: z.string().meta({ description: "The HTTP status's reason phrase." }),
    status: z.number().int().min(400).max(599),
    detail: z.string().meta({ description: 'What went wrong, leading with the object.' }),
    code: z.enum([...ERROR_CODES, 'HTTP']).meta({
      description:
        "ignite's error code (as the CLI's exit codes are mapped from); `HTTP` for a failure of the exchange itself (405, 408, 410, 413, 415, 401).",
    }),
    hint: z.string().optional().meta({ description: 'What to do about it.' }),
    problems: z.array(FieldProblemSchema).optional(),
  })
  .meta({
    id: 'Problem',
    description: 'An error, as an RFC 9457 problem document (`application/problem+json`).',
  });

export const DeleteStatusSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('Status'),
    status: z.literal('Success'),
    details: z.strictObject({ kind: z.enum(KINDS), name: z.string(), uid: UIDSchema }),
  })
  .meta({ id: 'Status', description: 'The answer to a delete: which object was removed.' });

export const ImportRequestSchema = z
  .strictObject({
    ref: z.string().min(1).meta({
      description: 'The OCI reference to import, as `ignite image import` takes it.',
    }),
  })
  .meta({ id: 'ImportRequest', description: 'What to import, by registry reference.' });

export const ActionOptionsSchema = z
  .strictObject({
    timeoutSeconds: z.number().min(0).max(3600).optional().meta({
      description: 'How long a stop waits for the guest to power off before it is killed.',
    }),
    save: z.boolean().optional().meta({
      description:
        "`stop` only: save the guest's memory and devices first, so the next start resumes it.",
    }),
  })
  .meta({ id: 'ActionOptions', description: 'The optional body of `start`, `stop` and `kill`.' });

export const SnapshotRequestSchema = z
  .strictObject({
    vm: z.string().min(1).meta({
      description: 'The running VM to snapshot: its name, UID, or a unique prefix of either.',
    }),
    name: z.string().min(1).optional().meta({
      description: "The snapshot's name; default `<vm>-<n>`, the first n not taken.",
    }),
    stop: z.boolean().optional().meta({
      description: 'End the VM once saved; its next start resumes from the snapshot.',
    }),
    timeoutSeconds: z
      .number()
      .min(1)
      .max(3600)
      .optional()
      .meta({ description: 'How long the save may take (default 180).' }),
  })
  .meta({
    id: 'SnapshotRequest',
    description: 'What `POST /snapshots` snapshots, as `ignite snapshot create` takes it.',
  });

export const ImportProgressSchema = z
  .strictObject({
    type: z.literal('progress'),
    layer: z.string().optional().meta({ description: 'The digest of the layer being pulled.' }),
    total: z.number().int().nonnegative().optional().meta({ description: "The layer's size." }),
    bytes: z.number().int().nonnegative().optional().meta({ description: 'Bytes read so far.' }),
    phase: z.enum(['unpacking', 'building filesystem', 'done']).optional(),
  })
  .meta({ id: 'ImportProgress', description: 'Progress of an import.' });

export const ImportErrorLineSchema = z
  .strictObject({ type: z.literal('error'), error: ProblemSchema })
  .meta({ id: 'ImportErrorLine', description: 'The import failed; the last line.' });

function importLineOf<T extends z.ZodType>(kind: string, object: T) {
  return z
    .union([
      ImportProgressSchema,
      z.strictObject({ type: z.literal('result'), object }),
      ImportErrorLineSchema,
    ])
    .meta({
      id: `${kind}ImportLine`,
      description: `One line of an import (${kind}) with \`Accept: application/x-ndjson\`: progress lines, then a result or an error.`,
    });
}

export const ImageImportLineSchema = importLineOf('Image', ImageSchema);
export const KernelImportLineSchema = importLineOf('Kernel', KernelSchema);

const ToolVersionSchema = z
  .strictObject({ found: z.boolean(), version: z.string().optional(), line: z.string().optional() })
  .meta({ id: 'ToolVersion', description: 'A host program: whether it was found, its version.' });

export const VersionDetailsSchema = z
  .strictObject({
    version: z.string(),
    gitCommit: z.string(),
    buildDate: z.string(),
    nodeVersion: z.string(),
    platform: z.string(),
    hypervisor: z.strictObject({
      name: z.string(),
      found: z.boolean(),
      version: z.string().optional(),
      line: z.string().optional(),
    }),
    kvm: z.strictObject({ device: z.boolean() }),
    tools: z.record(z.string(), ToolVersionSchema),
  })
  .meta({ id: 'VersionDetails', description: 'The build, and the hypervisor and tools found.' });

export type ImportRequest = z.output<typeof ImportRequestSchema>;
export type ActionOptions = z.output<typeof ActionOptionsSchema>;
export type SnapshotRequest = z.output<typeof SnapshotRequestSchema>;
export type WatchEventType = z.output<typeof WatchEventTypeSchema>;
