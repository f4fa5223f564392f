import { z } from 'zod';
import {
  ObjectMetaSchema,
  OCIImageRefSchema,
  SizeSchema,
  TimeSchema,
  UIDSchema,
} from '../meta/schema.js';
import { typeMeta } from './group.js';

/**
 * Extension: kind Snapshot, a saved running VM (docs/snapshots.md). Its files live in
 * `<dataDir>/snapshot/<uid>/`: the hypervisor's state, its sidecar, and the VM's disk as it was,
 * frozen. The spec says what the state is bound to; a restore with anything else is refused.
 */
export const SnapshotSourceSchema = z
  .strictObject({
    name: z.string().min(1).meta({ description: 'The name of the VM the snapshot was taken of.' }),
    uid: UIDSchema,
  })
  .meta({ id: 'SnapshotSource', description: 'The VM a snapshot was taken of.' });

export const SnapshotSpecSchema = z
  .strictObject({
    source: SnapshotSourceSchema,
    image: OCIImageRefSchema.meta({ description: "The source VM's image." }),
    kernel: OCIImageRefSchema.meta({ description: "The source VM's kernel." }),
    cpus: z
      .number()
      .int()
      .min(1)
      .max(240)
      .meta({ description: 'The vCPU count the state was saved with.' }),
    memory: SizeSchema.meta({ description: 'The guest memory the state was saved with.' }),
    vmm: z
      .enum(['qemu', 'firecracker'])
      .meta({ description: 'The hypervisor that saved the state; only it can load it.' }),
    guestAddress: z
      .string()
      .regex(
        /^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/,
        'expected an IPv4 address and prefix, such as 10.61.0.2/16',
      )
      .optional()
      .meta({
        description:
          "The source VM's address with its prefix, which the saved guest keeps in memory; clones get it NATed to their own. Absent for a VM without a network.",
      }),
  })
  .meta({ id: 'SnapshotSpec', description: 'What a snapshot was taken of and is bound to.' });

export const SnapshotFilesSchema = z
  .strictObject({
    state: z.string().meta({
      description:
        "The hypervisor's device and memory state (`<dataDir>/snapshot/<uid>/state`), with any further parts beside it (`state.<part>`).",
    }),
    sidecar: z.string().meta({
      description:
        'What the state is bound to and the size and SHA-256 of each part (`state.json`).',
    }),
    disk: z.string().meta({
      description:
        "The source VM's root disk overlay at the snapshot, frozen (`disk.qcow2`); the source VM and clones write to overlays over it.",
    }),
  })
  .meta({ id: 'SnapshotFiles', description: 'The files of a snapshot, absolute paths.' });

export const SnapshotStatusSchema = z
  .strictObject({
    files: SnapshotFilesSchema.optional(),
    size: SizeSchema.optional().meta({
      description: "The disk space the snapshot's files take.",
    }),
    created: TimeSchema.optional().meta({ description: 'When the state was saved.' }),
    saveSeconds: z.number().nonnegative().optional().meta({
      description: 'How long the save took, from the pause to the complete state.',
    }),
  })
  .meta({ id: 'SnapshotStatus' });

export const SnapshotSchema = z
  .strictObject({
    ...typeMeta('Snapshot'),
    metadata: ObjectMetaSchema,
    spec: SnapshotSpecSchema,
    status: SnapshotStatusSchema.optional(),
  })
  .meta({
    id: 'Snapshot',
    description:
      'Extension: a VM saved while it ran (`ignite snapshot create`): its memory and device state and its disk, under `<dataDir>/snapshot/<uid>/`.',
  });

export type Snapshot = z.output<typeof SnapshotSchema>;
export type SnapshotSpec = z.output<typeof SnapshotSpecSchema>;
export type SnapshotStatus = z.output<typeof SnapshotStatusSchema>;
