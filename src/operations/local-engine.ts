import { compareText } from '../api/index.js';
import type { CreateVMOptions } from './build-vm.js';
import { attachConsole, streamLogs } from './console.js';
import { createVM } from './create-vm.js';
import { execInGuest } from './guest-ssh.js';
import type {
  ArtifactKind,
  Engine,
  EngineCreateOptions,
  EngineImportOptions,
  SnapshotEngine,
  StoredArtifact,
} from './engine.js';
import { removeImageOrKernel } from './remove-artifact.js';
import { removeVM } from './remove-vm.js';
import { replaceVM } from './replace-vm.js';
import { runVM } from './run-vm.js';
import type { Services } from './services.js';
import { createSnapshot, removeSnapshot } from './snapshots.js';
import { startVMAhead } from './start-vm.js';
import { stopVM } from './stop-vm.js';
import { refreshVMState, refreshVMStates } from './vm-state.js';

/** The engine that runs the use cases on this host's data dir, in this process. */
export function localEngine(s: Services): Engine {
  return {
    async listVMs() {
      // A VM whose supervisor died says Running until someone looks: listing looks, and records it.
      const vms = await refreshVMStates(s, await s.client.vms.list());
      return vms.sort(byCreated);
    },
    findVM: async (query) => refreshVMState(s, await s.client.vms.find(query)),
    createVM: (manifest, options = {}) => createOrRun(s, { manifest }, options),
    startVM: (query, options = {}) => startVMAhead(s, query, options),
    stopVM: (query, options) => stopVM(s, query, options),
    removeVM: (query, options) => removeVM(s, query, options),
    replaceVM: (query, manifest) => replaceVM(s, query, manifest),
    async vmLogs(query, out, options = {}) {
      const log = options.spawn === true ? 'spawn' : 'console';
      if (options.follow !== true) return streamLogs(s, query, out, { spawn: log === 'spawn' });
      const vm = await s.client.vms.find(query);
      await s.runtimeFiles.followLog(
        vm.metadata.uid,
        log,
        out,
        options.signal ?? new AbortController().signal,
      );
    },
    async vmMetrics(query) {
      // Loaded on use: most commands never need prom-client.
      const { vmMetrics } = await import('./metrics.js');
      return vmMetrics(s, query);
    },
    attach: (query, io) => attachConsole(s, query, io),
    async exec(query, options, io) {
      const r = await execInGuest(s, query, {
        command: options.command,
        tty: options.tty,
        timeoutSeconds: options.timeoutSeconds,
        stdio: io,
        ...(options.identity !== undefined ? { identity: options.identity } : {}),
        ...(options.signal !== undefined ? { signal: options.signal } : {}),
      });
      return r.code;
    },
    async listArtifacts<K extends ArtifactKind>(kind: K) {
      const objs = kind === 'Image' ? await s.client.images.list() : await s.client.kernels.list();
      return (objs as StoredArtifact[K][]).sort(byCreated);
    },
    findArtifact: <K extends ArtifactKind>(kind: K, query: string) =>
      s.client.of(kind).find(query) as Promise<StoredArtifact[K]>,
    importArtifact: <K extends ArtifactKind>(
      kind: K,
      ref: string,
      options: EngineImportOptions = {},
    ) =>
      (kind === 'Image'
        ? s.imports.image(ref, options)
        : s.imports.kernel(ref, options)) as Promise<StoredArtifact[K]>,
    removeArtifact: (kind, query, options) =>
      removeImageOrKernel(s, kind, query, {
        force: options.force,
        removeVM: (vm) => removeVM(s, vm, { force: true }),
      }),
  };
}

/** The snapshot commands on this host's data dir. */
export function localSnapshotEngine(s: Services): SnapshotEngine {
  return {
    listSnapshots: async () => (await s.client.snapshots.list()).sort(byCreated),
    findSnapshot: (query) => s.client.snapshots.find(query),
    createSnapshot: (vm, options = {}) => createSnapshot(s, vm, options),
    removeSnapshot: (query, options) => removeSnapshot(s, query, options),
    cloneSnapshot: (query, manifest, options = {}) =>
      createOrRun(s, { manifest, fromSnapshot: query }, options),
  };
}

/** `create`, or with `options.start` `run`. */
function createOrRun(s: Services, given: CreateVMOptions, options: EngineCreateOptions) {
  if (options.start === undefined) return createVM(s, given);
  const { timeoutMs, sshTimeoutMs, logLevel } = options.start;
  return runVM(s, given, {
    startTimeoutMs: timeoutMs,
    sshTimeoutMs,
    ...(logLevel !== undefined ? { spawnLogLevel: logLevel } : {}),
  });
}

function byCreated(
  a: { metadata: { created?: string | undefined } },
  b: { metadata: { created?: string | undefined } },
): number {
  return compareText(a.metadata.created ?? '', b.metadata.created ?? '');
}
