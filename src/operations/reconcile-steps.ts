import { toAppError } from '../errors.js';
import type { Image, Kernel, VM } from '../api/index.js';
import type { ErrorCode } from '../errors.js';
import type { Engine } from './engine.js';

/** One VM manifest from the source, with the file it came from. */
export interface DesiredVM {
  vm: VM;
  file: string;
}

/** What a source asks for: VMs, images and kernels, and the files that could not be read. */
export interface DesiredState {
  vms: DesiredVM[];
  images: { obj: Image; file: string }[];
  kernels: { obj: Kernel; file: string }[];
  /**
   * Objects of the host's own kinds (Network, Volume, Host, Snapshot): a source names them in its
   * VMs but never makes them, since each is a piece of the host (a bridge and routes, disk space)
   * that only its operator gives out. Absent when there are none.
   */
  hostObjects?: { kind: string; name: string; file: string }[];
  /** Files that exist but are invalid: the VMs they held are kept as they are. */
  invalidFiles: string[];
}

export type ReconcileAction =
  | 'created'
  | 'recreated'
  | 'updated'
  | 'started'
  | 'stopped'
  | 'deleted'
  | 'kept'
  | 'refused'
  | 'failed';

/** One decision of a reconcile pass, for the log and the caller. */
export interface ReconcileDecision {
  kind?: 'vm' | 'image' | 'kernel' | 'network' | 'volume' | 'host' | 'snapshot';
  /** The VM's name, or the image's or kernel's reference. */
  vm: string;
  action: ReconcileAction;
  detail?: string;
  error?: ErrorCode;
  /** The manifest the decision is about, where one is (refusals). */
  file?: string;
}

/** Runs one VM's step; a failure becomes its decision, and the pass goes on. */
export async function attempt(
  name: string,
  decide: (d: ReconcileDecision) => void,
  work: () => Promise<void>,
): Promise<void> {
  try {
    await work();
  } catch (err) {
    const e = toAppError(err);
    decide({ vm: name, action: 'failed', detail: e.message, error: e.code });
  }
}

/** Imports the Images and Kernels the source declares, so VMs that use them find them. */
export async function prefetch(
  s: { engine: Pick<Engine, 'importArtifact'> },
  desired: DesiredState,
  decide: (d: ReconcileDecision) => void,
): Promise<void> {
  const wanted = [
    ...desired.images.map((i) => ({ ...i, kind: 'image' as const })),
    ...desired.kernels.map((k) => ({ ...k, kind: 'kernel' as const })),
  ];
  for (const { obj, file, kind } of wanted) {
    const ref = obj.spec.ociClaim.ref;
    try {
      await s.engine.importArtifact(kind === 'image' ? 'Image' : 'Kernel', ref);
    } catch (err) {
      const e = toAppError(err);
      decide({ kind, vm: ref, action: 'failed', detail: `${file}: ${e.message}`, error: e.code });
    }
  }
}
