import { HostSchema, type Host } from './host.js';
import { SnapshotSchema, type Snapshot } from './snapshot.js';
import { ImageSchema, KernelSchema, VMSchema, type Image, type Kernel, type VM } from './types.js';
import { VolumeSchema, type Volume } from './volume.js';

/** Every kind of the group: its schema and its type. */
export type APIObject = VM | Image | Kernel | Snapshot | Host | Volume;

export const KIND_SCHEMAS = {
  VM: VMSchema,
  Image: ImageSchema,
  Kernel: KernelSchema,
  Snapshot: SnapshotSchema,
  Host: HostSchema,
  Volume: VolumeSchema,
} as const;

export interface KindMap {
  VM: VM;
  Image: Image;
  Kernel: Kernel;
  Snapshot: Snapshot;
  Host: Host;
  Volume: Volume;
}
