import { fromPlainAs, toPlain, type StoredVM, type VM } from '../api/index.js';
import { AppError } from '../errors.js';
import type { Engine } from './engine.js';
import { sortByTrust, type ManifestTrust } from './manifest-trust.js';
import type { Services } from './services.js';
import {
  changedFields,
  FILE_ANNOTATION,
  MANAGED_BY,
  OWN_ANNOTATIONS,
  PENDING,
  sameRecord,
  SOURCE_ANNOTATION,
  SPEC_HASH_ANNOTATION,
  specHash,
  userAnnotations,
} from './reconcile-spec.js';
import {
  attempt,
  prefetch,
  type DesiredState,
  type DesiredVM,
  type ReconcileDecision,
} from './reconcile-steps.js';

export type {
  DesiredState,
  DesiredVM,
  ReconcileAction,
  ReconcileDecision,
} from './reconcile-steps.js';
import { vmLabel } from './vm-paths.js';

export {
  FILE_ANNOTATION,
  MANAGED_BY,
  SOURCE_ANNOTATION,
  SPEC_HASH_ANNOTATION,
  specHash,
} from './reconcile-spec.js';

export interface ReconcileOptions {
  /** What the source's manifests may ask of the host: refused VMs are not created or changed. */
  trust: ManifestTrust;
  /**
   * Which kind of source this is (`gitops`, `manifest-dir`), written as the VMs' managed-by
   * annotation. A source changes only the VMs of its own kind and name, so a directory and a
   * repository with the same path never take each other's VMs. Default: gitops.
   */
  managedBy?: string;
  /** Stops the pass between VMs: what is underway finishes, nothing new starts. */
  signal?: AbortSignal;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
}

/** Where each of the host's own kinds comes from, for a manifest that declares one. */
const MADE_BY: Record<string, string> = {
  Network: 'ignite network create',
  Volume: 'ignite volume create',
  Snapshot: 'ignite snapshot create',
  Host: "its ignited's registration",
};

/** What a reconcile pass asks of ignite: on this host's data dir, or of a daemon. */
export type ReconcileEngine = Pick<
  Engine,
  | 'listVMs'
  | 'findVM'
  | 'createVM'
  | 'startVM'
  | 'stopVM'
  | 'replaceVM'
  | 'removeVM'
  | 'importArtifact'
>;

/** The host's files (trust is checked where the manifests are read), a logger, and an engine. */
export type ReconcileServices = Pick<Services, 'hostFiles' | 'logger'> & {
  engine: ReconcileEngine;
};

/**
 * Makes the host's VMs from `source` match `asked`: creates what is new, updates labels and
 * the running state in place, recreates what changed otherwise, and deletes what is gone. Each VM
 * is handled on its own, so one failure touches no other VM; failures are returned as decisions
 * with their error code, and the pass goes on. A VM whose manifest asks for more than the source
 * is trusted with (`options.trust`) is refused: not created, and not changed if it exists.
 *
 * A VM is identified by `metadata.uid` when the manifest gives one, else by its name.
 */
export async function reconcileVMs(
  s: ReconcileServices,
  source: string,
  asked: DesiredState,
  options: ReconcileOptions,
): Promise<ReconcileDecision[]> {
  const decisions: ReconcileDecision[] = [];
  const decide = (d: ReconcileDecision): void => {
    decisions.push(d);
    const line = `${d.kind ?? 'vm'} "${d.vm}": ${d.action}${d.detail ? ` (${d.detail})` : ''}`;
    const fields = {
      [d.kind ?? 'vm']: d.vm,
      action: d.action,
      source,
      ...(d.file !== undefined ? { file: d.file } : {}),
    };
    if (d.action === 'failed' || d.action === 'refused')
      s.logger.error({ ...fields, code: d.error }, line);
    else if (d.action === 'kept') s.logger.warn(fields, line);
    else s.logger.info(fields, line);
  };
  const aborted = (): boolean => options.signal?.aborted === true;

  const { trusted, refused } = await sortByTrust(s, asked.vms, options.trust);
  for (const r of refused)
    decide({
      vm: r.name,
      action: 'refused',
      detail: r.message,
      error: 'PermissionDenied',
      file: r.file,
    });
  // A refused manifest's file counts as invalid: a VM made from an earlier, allowed version of it
  // is kept as it is.
  const desired: DesiredState = {
    ...asked,
    vms: trusted,
    invalidFiles: [...new Set([...asked.invalidFiles, ...refused.map((r) => r.file)])],
  };
  for (const o of asked.hostObjects ?? [])
    decide({
      kind: o.kind.toLowerCase() as 'network' | 'volume' | 'host' | 'snapshot',
      vm: o.name,
      action: 'refused',
      detail: `a ${o.kind} is made on the host (${MADE_BY[o.kind] ?? 'by its operator'}), not by a manifest; VMs may name it`,
      error: 'PermissionDenied',
      file: o.file,
    });
  await prefetch(s, desired, decide);

  const all = await s.engine.listVMs();
  const managed = all.filter((v) => isManagedBy(v, source, options));
  const wanted = new Map<StoredVM, DesiredVM>();
  for (const d of desired.vms) {
    const match = d.vm.metadata.uid
      ? managed.find((v) => v.metadata.uid === d.vm.metadata.uid)
      : managed.find((v) => v.metadata.name === d.vm.metadata.name);
    if (match) wanted.set(match, d);
  }

  // Deletions first: they free names and host ports the new manifests may use.
  for (const vm of managed) {
    if (aborted()) return decisions;
    if (wanted.has(vm)) continue;
    const name = vm.metadata.name;
    const file = vm.metadata.annotations?.[FILE_ANNOTATION] ?? '';
    if (desired.invalidFiles.includes(file)) {
      decide({ vm: name, action: 'kept', detail: `its manifest ${file} is invalid` });
      continue;
    }
    await attempt(name, decide, async () => {
      await deleteVM(s, vm, options);
      decide({ vm: name, action: 'deleted', detail: `no manifest for it in ${source}` });
    });
  }

  for (const d of desired.vms) {
    if (aborted()) return decisions;
    const name = d.vm.metadata.name ?? '';
    const current = [...wanted].find(([, w]) => w === d)?.[0];
    await attempt(name, decide, async () => {
      if (current === undefined) {
        const other = all.find(
          (v) =>
            v.metadata.name === name ||
            (d.vm.metadata.uid !== undefined && v.metadata.uid === d.vm.metadata.uid),
        );
        if (other) {
          throw new AppError(
            'AlreadyExists',
            `${vmLabel(other)}: exists and was not created from ${source}; left alone`,
          );
        }
        await createFromManifest(s, source, d, options);
        decide({ vm: name, action: 'created', detail: d.file });
        return;
      }
      const hash = specHash(d.vm);
      const have = current.metadata.annotations?.[SPEC_HASH_ANNOTATION];
      if (have !== hash) {
        const why =
          have === PENDING
            ? 'its last reconcile was interrupted'
            : `${changedFields(current, d.vm).join(', ') || 'spec'} changed; it cannot change in place`;
        await deleteVM(s, current, options);
        await createFromManifest(s, source, d, options);
        decide({ vm: name, action: 'recreated', detail: why });
        return;
      }
      const changed = await updateInPlace(s, current, d);
      if (changed.length > 0) decide({ vm: name, action: 'updated', detail: changed.join(', ') });
      const running = (await s.engine.findVM(current.metadata.uid)).status.state === 'Running';
      if (wantsRunning(d.vm) && !running) {
        await s.engine.startVM(current.metadata.uid, startOptions(options));
        decide({ vm: name, action: 'started' });
      } else if (!wantsRunning(d.vm) && running) {
        await s.engine.stopVM(current.metadata.uid, { kill: false, ...stopOptions(options) });
        decide({ vm: name, action: 'stopped' });
      }
    });
  }
  return decisions;
}

/** VMs made before managed-by told sources apart were all made by gitops. */
function isManagedBy(vm: StoredVM, source: string, options: ReconcileOptions): boolean {
  const a = vm.metadata.annotations;
  return (
    a?.[SOURCE_ANNOTATION] === source &&
    (a[MANAGED_BY] ?? 'gitops') === (options.managedBy ?? 'gitops')
  );
}

function wantsRunning(vm: VM): boolean {
  return vm.status?.state === 'Running';
}

const startOptions = (o: ReconcileOptions) =>
  o.startTimeoutMs !== undefined ? { timeoutMs: o.startTimeoutMs } : {};
const stopOptions = (o: ReconcileOptions) =>
  o.stopTimeoutMs !== undefined ? { timeoutMs: o.stopTimeoutMs } : {};

/**
 * Creates the VM marked as pending, starts it if asked, then records its spec hash. A reconciler
 * killed in between leaves the mark, and the next pass recreates that VM instead of trusting it.
 */
async function createFromManifest(
  s: ReconcileServices,
  source: string,
  d: DesiredVM,
  options: ReconcileOptions,
): Promise<void> {
  const manifest: VM = {
    ...d.vm,
    metadata: {
      ...d.vm.metadata,
      annotations: {
        ...d.vm.metadata.annotations,
        [MANAGED_BY]: options.managedBy ?? 'gitops',
        [SOURCE_ANNOTATION]: source,
        [FILE_ANNOTATION]: d.file,
        [SPEC_HASH_ANNOTATION]: PENDING,
      },
    },
  };
  const vm = await s.engine.createVM(manifest);
  const uid = vm.metadata.uid;
  const now = wantsRunning(d.vm) ? await s.engine.startVM(uid, startOptions(options)) : vm;
  await s.engine.replaceVM(
    uid,
    withMetadata(now, {
      annotations: { ...now.metadata.annotations, [SPEC_HASH_ANNOTATION]: specHash(d.vm) },
    }),
  );
}

/** A stored VM as a manifest of itself with other labels or annotations, for replaceVM. */
function withMetadata(
  vm: StoredVM,
  m: { labels?: Record<string, string>; annotations: Record<string, string> },
): VM {
  const plain = toPlain(vm);
  const metadata = { ...(plain['metadata'] as Record<string, unknown>), ...m };
  if (m.labels !== undefined && Object.keys(m.labels).length === 0) delete metadata['labels'];
  return fromPlainAs('VM', { ...plain, metadata }, { defaults: false });
}

async function deleteVM(
  s: ReconcileServices,
  vm: StoredVM,
  options: ReconcileOptions,
): Promise<void> {
  const uid = vm.metadata.uid;
  // A guest that powers off cleanly keeps its disk consistent; rm -f kills what does not.
  await s.engine.stopVM(uid, { kill: false, ...stopOptions(options) });
  await s.engine.removeVM(uid, { force: true });
}

/** Labels and the manifest's own annotations change in place; returns what changed. */
async function updateInPlace(
  s: ReconcileServices,
  current: StoredVM,
  d: DesiredVM,
): Promise<string[]> {
  const wantLabels = d.vm.metadata.labels ?? {};
  const wantAnnotations = userAnnotations(d.vm.metadata.annotations);
  const changed: string[] = [];
  if (!sameRecord(current.metadata.labels ?? {}, wantLabels)) changed.push('labels');
  if (!sameRecord(userAnnotations(current.metadata.annotations), wantAnnotations))
    changed.push('annotations');
  const file = current.metadata.annotations?.[FILE_ANNOTATION];
  if (changed.length === 0 && file === d.file) return [];
  const own = Object.fromEntries(
    Object.entries(current.metadata.annotations ?? {}).filter(([k]) => OWN_ANNOTATIONS.has(k)),
  );
  await s.engine.replaceVM(
    current.metadata.uid,
    withMetadata(current, {
      labels: { ...wantLabels },
      annotations: { ...wantAnnotations, ...own, [FILE_ANNOTATION]: d.file },
    }),
  );
  return changed;
}
