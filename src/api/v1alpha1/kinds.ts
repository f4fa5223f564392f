import { NetworkSchema, type Network } from './network.js';
import { SnapshotSchema, type Snapshot } from './snapshot.js';
import { ImageSchema, KernelSchema, VMSchema, type Image, type Kernel, type VM } from './types.js';

/** Every kind of the group with its schema and its type. */
export type APIObject = VM | Image | Kernel | Snapshot | Network;

export const KIND_SCHEMAS = {
  VM: VMSchema,
  Image: ImageSchema,
  Kernel: KernelSchema,
  Snapshot: SnapshotSchema,
  Network: NetworkSchema,
} as const;

export interface KindMap {
  VM: VM;
  Image: Image;
  Kernel: Kernel;
  Snapshot: Snapshot;
  Network: Network;
}
