import type { VM } from '../api/index.js';
import { failedPrecondition } from '../errors.js';
import { findProcesses, signalProcess, waitForExit } from '../system/process.js';
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
  await killStrays(deps, vm);
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

/**
 * Ends processes of the VM that its record does not know of: a supervisor started by a `run` or
 * reconciler killed before the VM was recorded Running, and its hypervisor. Without this, removing
 * the VM would orphan them with their files deleted.
 */
async function killStrays(deps: OperationDeps, vm: VM): Promise<void> {
  const uid = vm.metadata.uid ?? '';
  const dir = deps.client.vms.objectDir(uid);
  if (uid === '' || dir === undefined) return;
  const strays = await findProcesses(
    (argv) =>
      (argv.includes(uid) &&
        argv.some((a) => a === deps.dataDir || a.startsWith(`--data-dir=${deps.dataDir}`))) ||
      argv.some((a) => a.includes(`${dir}/`)),
  );
  if (strays.length === 0) return;
  deps.logger.warn(
    { vm: vm.metadata.name, pids: strays },
    `${vmLabel(vm)}: ending processes left by an interrupted start`,
  );
  for (const pid of strays) signalProcess(pid, 'SIGKILL');
  for (const pid of strays) await waitForExit(pid, 5000);
}
