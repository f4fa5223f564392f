import { z } from 'zod';
import { Size } from './size.js';
import { normalizeImageRef } from './oci-image-ref.js';
import { UID_PATTERN } from './uid.js';

/** Object names: lower-case letters, digits, `-`, `_`, `.`; no path separators, so a name is safe in a path. */
export const NAME_PATTERN = /^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/;
/** Image and kernel names are normalized OCI references, which may hold `/`, `:` and `@`. */
export const REF_NAME_PATTERN = /^[a-z0-9][a-z0-9._\-:/@[\]]*$/;

export const SizeSchema = z
  .union([z.string(), z.number().int().nonnegative()])
  .transform((v, ctx) => {
    try {
      return Size.parse(v);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `expected a size such as 512MB: ${(err as Error).message}`,
      });
      return z.NEVER;
    }
  })
  .meta({
    description:
      'A size in bytes, written as a number and a 1024-based unit: `512MB`, `4GB`, `1.5GiB`.',
    examples: ['512MB', '4GB'],
  });

export const OCIImageRefSchema = z
  .string()
  .transform((v, ctx) => {
    try {
      return normalizeImageRef(v);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `expected an image reference such as busybox:latest: ${(err as Error).message}`,
      });
      return z.NEVER;
    }
  })
  .meta({
    description:
      'An OCI image reference, normalized as Docker does (`busybox` → `docker.io/library/busybox:latest`).',
    examples: ['weaveworks/ignite-ubuntu:latest'],
  });

export const UIDSchema = z
  .string()
  .regex(UID_PATTERN, 'expected 16 lower-case letters or digits')
  .meta({
    id: 'UID',
    description: 'Unique object ID: 16 lower-case hex characters, generated when empty.',
  });

export const TimeSchema = z.iso
  .datetime({ offset: true })
  .meta({ id: 'Time', description: 'An RFC 3339 timestamp.' });

export const ObjectMetaSchema = z
  .strictObject({
    name: z.string().optional().meta({
      description: 'Unique name of the object within its kind; generated for VMs when empty.',
    }),
    uid: UIDSchema.optional(),
    created: TimeSchema.optional().meta({
      description: 'When the object was first stored; set by storage.',
    }),
    labels: z
      .record(z.string(), z.string())
      .optional()
      .meta({ description: 'Free key/value labels, used by `ps --filter` and gitops.' }),
    annotations: z.record(z.string(), z.string()).optional().meta({
      description:
        'Free key/value annotations; ignite keeps per-object settings here (for example the VMM).',
    }),
  })
  .meta({ id: 'ObjectMeta', description: 'Metadata every stored object has.' });

export type ObjectMeta = z.output<typeof ObjectMetaSchema>;
