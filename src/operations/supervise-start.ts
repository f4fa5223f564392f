import type { VM } from '../api/index.js';
import type { VMNetworkAttachment, VMNetworking } from './vm-networking.js';
import type { OperationDeps } from './deps.js';
import { vmPaths } from './vm-paths.js';

/**
 * How a supervisor started ahead of its VM (`run`) learns what to do: `prepare` settles once the
 * VM is stored with its network reserved, `go` once its root disk is ready (false: give up).
 */
export interface StartSignals {
  prepare: Promise<void>;
  go: Promise<boolean>;
}

/** Sets up a VM's network as its record asks. */
export function setupVMNetwork(
  deps: Pick<OperationDeps, 'dataDir' | 'client'> & { networking: VMNetworking },
  vm: VM,
): Promise<VMNetworkAttachment> {
  const uid = vm.metadata.uid ?? '';
  return deps.networking.setup({
    uid,
    name: vm.metadata.name ?? uid,
    mode: vm.spec.network?.mode ?? 'docker-bridge',
    ports: vm.spec.network?.ports ?? [],
    vmDir: vmPaths(deps, vm).dir,
  });
}

/**
 * Waits for the go of a supervisor started ahead of its VM. Told to prepare first, it sets up
 * the VM's network meanwhile, so that overlaps the root disk's creation; told to give up, it
 * undoes that before it returns. Returns false when the VM is not to be started, else the
 * network being set up, if any.
 */
export async function awaitStart(
  deps: Pick<OperationDeps, 'dataDir' | 'client'> & { networking: VMNetworking },
  uid: string,
  signals: StartSignals,
): Promise<false | { network?: Promise<VMNetworkAttachment> }> {
  const first = await Promise.race([signals.go, signals.prepare.then(() => 'prepare' as const)]);
  if (first !== 'prepare') return first && {};
  const vm = await deps.client.vms.get(uid);
  const network = setupVMNetwork(deps, vm);
  // Awaited by the caller, or here when the run is given up; never left unhandled meanwhile.
  network.catch(() => undefined);
  if (await signals.go) return { network };
  await network.catch(() => undefined);
  await deps.networking.teardown({ uid, vmDir: vmPaths(deps, vm).dir });
  return false;
}
