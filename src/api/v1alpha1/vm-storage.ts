import { z } from 'zod';

/**
 * `spec.storage` of a VM, in Weave Ignite v0.5's shape (`volumes` and `volumeMounts`, joined by
 * name), with three sources it lacked (marked "Extension"): named volumes, host image files and
 * host directories. Each volume is mounted in the guest through `/etc/fstab`, written into the
 * root disk before boot; disks are attached in the order of `volumes` (`/dev/vdb`, `/dev/vdc`, …).
 */
const HostPathSchema = z
  .string()
  .startsWith('/', 'expected an absolute path')
  .meta({ description: 'Absolute path on the host.' });

export const VolumeNameSchema = z
  .string()
  .regex(
    /^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$/i,
    'expected a name of letters, digits and ._- (at most 63)',
  )
  .meta({ description: 'The name of the volume in this VM, which its mount refers to.' });

export const VMVolumeSchema = z
  .strictObject({
    name: VolumeNameSchema,
    blockDevice: z
      .strictObject({ path: HostPathSchema })
      .optional()
      .meta({ description: 'A block device of the host (`/dev/loop0`), as in Ignite v0.5.' }),
    volume: z
      .strictObject({ name: z.string().min(1).meta({ description: 'The Volume object.' }) })
      .optional()
      .meta({ description: 'Extension: a named volume (`ignite volume create`).' }),
    file: z
      .strictObject({ path: HostPathSchema })
      .optional()
      .meta({ description: 'Extension: a disk image file of the host, attached as it is.' }),
    directory: z.strictObject({ path: HostPathSchema }).optional().meta({
      description:
        'Extension: a directory of the host shared over virtio-9p (QEMU only), as `--mount type=bind`.',
    }),
  })
  .meta({
    id: 'VMVolume',
    description:
      'A volume of the VM: exactly one of `blockDevice`, `volume`, `file` or `directory`.',
  });

export const VolumeMountSchema = z
  .strictObject({
    name: VolumeNameSchema.meta({ description: 'The volume to mount, by its name in `volumes`.' }),
    mountPath: z
      .string()
      .regex(
        /^\/[A-Za-z0-9._+@:=,/-]*$/,
        'expected an absolute path of letters, digits and ._+@:=,-/',
      )
      .meta({ description: 'Where the guest mounts it.' }),
    readOnly: z
      .boolean()
      .optional()
      .meta({ description: 'Extension: attach and mount it read-only (default false).' }),
  })
  .meta({ id: 'VolumeMount', description: 'Where a volume is mounted in the guest.' });

export const VMStorageSpecSchema = z
  .strictObject({
    volumes: z.array(VMVolumeSchema).optional(),
    volumeMounts: z.array(VolumeMountSchema).optional(),
  })
  .meta({ id: 'VMStorageSpec', description: 'Volumes attached to the VM and where they mount.' });

export type VMVolume = z.output<typeof VMVolumeSchema>;
export type VolumeMount = z.output<typeof VolumeMountSchema>;
export type VMStorageSpec = z.output<typeof VMStorageSpecSchema>;

/** What a volume is, by its source. */
export type VMVolumeSource =
  | { kind: 'blockDevice'; path: string }
  | { kind: 'volume'; name: string }
  | { kind: 'file'; path: string }
  | { kind: 'directory'; path: string };

/** The source of a volume; undefined when it names none or several. */
export function volumeSource(v: VMVolume): VMVolumeSource | undefined {
  const found: VMVolumeSource[] = [];
  if (v.blockDevice) found.push({ kind: 'blockDevice', path: v.blockDevice.path });
  if (v.volume) found.push({ kind: 'volume', name: v.volume.name });
  if (v.file) found.push({ kind: 'file', path: v.file.path });
  if (v.directory) found.push({ kind: 'directory', path: v.directory.path });
  return found.length === 1 ? found[0] : undefined;
}
