import { z } from 'zod';
import { ObjectMetaSchema, SizeSchema, TimeSchema } from '../meta/schema.js';
import { typeMeta } from './group.js';

/**
 * Extension: kind Volume, a named disk that outlives the VMs it is attached to (docs/volumes.md).
 * Its file is `<dataDir>/volume/<uid>/volume.img`, sparse; a VM names it in
 * `spec.storage.volumes[].volume.name` and gets it as one more virtio-blk disk.
 */
export const VolumeFormatSchema = z.enum(['ext4', 'raw']).meta({
  description:
    '`ext4` (default): the file is formatted with mkfs.ext4 at create, ready to mount. `raw`: left empty, for the guest to format.',
});

export const VolumeSpecSchema = z
  .strictObject({
    size: SizeSchema.meta({ description: 'The size of the volume; its file is sparse.' }),
    format: VolumeFormatSchema.optional(),
  })
  .meta({ id: 'VolumeSpec', description: 'The desired volume.' });

export const VolumeStatusSchema = z
  .strictObject({
    path: z.string().optional().meta({
      description: "The volume's file on the host (`<dataDir>/volume/<uid>/volume.img`).",
    }),
    created: TimeSchema.optional().meta({ description: 'When the file was made.' }),
  })
  .meta({ id: 'VolumeStatus' });

export const VolumeSchema = z
  .strictObject({
    ...typeMeta('Volume'),
    metadata: ObjectMetaSchema,
    spec: VolumeSpecSchema,
    status: VolumeStatusSchema.optional(),
  })
  .meta({
    id: 'Volume',
    description:
      'Extension: a named volume (`ignite volume create`), attached to VMs as a disk and kept when they are removed.',
  });

export type Volume = z.output<typeof VolumeSchema>;
export type VolumeSpec = z.output<typeof VolumeSpecSchema>;
export type VolumeStatus = z.output<typeof VolumeStatusSchema>;
export type VolumeFormat = z.output<typeof VolumeFormatSchema>;
