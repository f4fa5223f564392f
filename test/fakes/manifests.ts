import assert from 'node:assert/strict';
import { API_VERSION, fromPlain, type StoredVM, type VM } from '../../src/api/index.js';
import type { ManifestTrust } from '../../src/operations/manifest-trust.js';
import type { Engine } from '../../src/operations/engine.js';
import { localEngine } from '../../src/operations/local-engine.js';
import {
  reconcileVMs,
  type DesiredState,
  type ReconcileDecision,
} from '../../src/operations/reconcile-vms.js';
import type { FakeServices } from './fake-services.js';

/** A VM manifest as a source holds it, in `vms/<name>.yaml` unless told. */
export interface Manifest {
  name: string;
  file?: string;
  cpus?: number;
  labels?: Record<string, string>;
  running?: boolean;
  image?: string;
  hostPort?: number;
}

/** Decoded as gitops reads a source's file: references normalized, no defaults applied. */
export function manifest(m: Manifest): VM {
  return fromPlain(plainManifest(m), { defaults: false }) as VM;
}

function plainManifest(m: Manifest): VM {
  return {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: { name: m.name, ...(m.labels ? { labels: m.labels } : {}) },
    spec: {
      image: { ociClaim: { ref: m.image ?? 'busybox' } },
      ...(m.cpus !== undefined ? { cpus: m.cpus } : {}),
      ...(m.hostPort !== undefined
        ? { network: { ports: [{ hostPort: m.hostPort, vmPort: 80 }] } }
        : {}),
    },
    ...(m.running ? { status: { state: 'Running' as const } } : {}),
  };
}

export function desired(ms: Manifest[], invalidFiles: string[] = []): DesiredState {
  return {
    vms: ms.map((m) => ({ vm: manifest(m), file: m.file ?? `vms/${m.name}.yaml` })),
    images: [],
    kernels: [],
    invalidFiles,
  };
}

/** The stored VMs by name. */
export async function vmsByName(s: FakeServices): Promise<Map<string, StoredVM>> {
  return new Map((await s.client.vms.list()).map((v) => [v.metadata.name, v]));
}

/** A decision as a test expects it: the VM, the action, and its detail when it matters. */
export type Want = [vm: string, action: ReconcileDecision['action'], detail?: string | RegExp];

export function assertDecisions(got: ReconcileDecision[], want: Want[]): void {
  assert.deepEqual(
    got.map((d) => `${d.vm}: ${d.action}`),
    want.map(([vm, action]) => `${vm}: ${action}`),
  );
  want.forEach(([, , detail], i) => {
    if (detail === undefined) return;
    const d = got[i]?.detail ?? '';
    if (typeof detail === 'string') assert.equal(d, detail);
    else assert.match(d, detail);
  });
}

/** The services a reconcile pass takes: the fakes, with the engine over them. */
export function withEngine(s: FakeServices): FakeServices & { engine: Engine } {
  return { ...s, engine: localEngine(s) };
}

/** The source the passes reconcile, unless told. */
export const SRC = 'https://git.example.com/fleet.git';
/** A trust that allows any host path and port. */
export const OPEN: ManifestTrust = { allowHostPaths: ['/'], hostPortRange: [1, 65535] };

/** One reconcile pass of `SRC` (or `o.source`) over `asked`. */
export async function pass(
  s: FakeServices,
  asked: DesiredState,
  o: { source?: string; managedBy?: string; trust?: ManifestTrust; signal?: AbortSignal } = {},
): Promise<ReconcileDecision[]> {
  return reconcileVMs(withEngine(s), o.source ?? SRC, asked, {
    trust: o.trust ?? OPEN,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.managedBy !== undefined ? { managedBy: o.managedBy } : {}),
  });
}

/** A setup step: an earlier pass that created every VM of `ms` (by gitops unless told). */
export const earlier =
  (ms: Manifest[], source = SRC, managedBy?: string) =>
  async (s: FakeServices): Promise<void> => {
    const first = await pass(s, desired(ms), {
      source,
      ...(managedBy !== undefined ? { managedBy } : {}),
    });
    assert.ok(
      first.every((d) => d.action === 'created'),
      JSON.stringify(first),
    );
  };
