import { HostSchema, type Host } from './host.js';
import { NetworkSchema, type Network } from './network.js';
import { SnapshotSchema, type Snapshot } from './snapshot.js';
import { ImageSchema, KernelSchema, VMSchema, type Image, type Kernel, type VM } from './types.js';
import { VolumeSchema, type Volume } from './volume.js';

/** Every kind of the group: its schema and its type. */
export type APIObject = VM | Image | Kernel | Snapshot | Host | Volume | Network;

export const KIND_SCHEMAS = {
  VM: VMSchema,
  Image: ImageSchema,
  Kernel: KernelSchema,
  Snapshot: SnapshotSchema,
  Host: HostSchema,
  Volume: VolumeSchema,
  Network: NetworkSchema,
} as const;

export interface KindMap {
  VM: VM;
  Image: Image;
  Kernel: Kernel;
  Snapshot: Snapshot;
  Host: Host;
  Volume: Volume;
  Network: Network;
}
