import { failedPrecondition } from '../errors.js';
import type { OperationDeps } from './deps.js';
import { stopVM } from './stop-vm.js';
import { vmLabel } from './vm-paths.js';
import { isVMRunning, refreshVMState } from './vm-state.js';

export interface RemoveVMOptions {
  /** Stop a running VM first (`rm -f`). */
  force?: boolean;
}

/**
 * Removes a VM and everything of it: its supervisor and hypervisor (with -f), network, root disk,
 * keys, logs, sockets and metadata — all of which live in its directory, removed whole.
 */
export async function removeVM(
  deps: OperationDeps,
  query: string,
  options: RemoveVMOptions = {},
): Promise<string> {
  let vm = await deps.client.vms.find(query);
  vm = await refreshVMState(deps, vm);
  if (isVMRunning(vm)) {
    if (!options.force) {
      throw failedPrecondition(`${vmLabel(vm)}: is running`, {
        hint: 'stop it first, or use rm -f',
      });
    }
    vm = await stopVM(deps, vm.metadata.uid ?? '', { kill: true });
  }
  await deps.releaseVMNetwork(vm);
  await deps.releaseVMDisk(vm);
  const uid = vm.metadata.uid ?? '';
  await deps.client.vms.delete(uid);
  deps.logger.info(
    { vm: vm.metadata.name, uid },
    `Removed VM with name "${vm.metadata.name ?? ''}" and ID "${uid}"`,
  );
  return uid;
}
