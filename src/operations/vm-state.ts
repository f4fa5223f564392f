import { rm } from 'node:fs/promises';
import type { VM } from '../api/index.js';
import { isProcessAlive, signalIfSame } from '../system/process.js';
import type { OperationDeps } from './deps.js';
import { vmPaths } from './vm-paths.js';

/**
 * Whether the VM's supervisor is really alive. Status says Running only while its ignite-spawn
 * lives; the UID in the spawn's command line guards against a reused PID.
 */
export function isVMRunning(vm: VM): boolean {
  return (
    vm.status?.state === 'Running' && isProcessAlive(vm.status.runtime?.spawnPid, vm.metadata.uid)
  );
}

/**
 * Makes a stored VM tell the truth: if it says Running but its supervisor is gone (killed, or the
 * host rebooted), it is marked Stopped and what the supervisor would have cleaned up is collected.
 * Returns the VM as it now is.
 */
export async function refreshVMState(
  deps: Pick<OperationDeps, 'client' | 'logger' | 'collectVMLeftovers'>,
  vm: VM,
): Promise<VM> {
  if (vm.status?.state !== 'Running' || isVMRunning(vm)) return vm;
  const uid = vm.metadata.uid ?? '';
  const updated = await deps.client.vms.update(uid, (v) => {
    // Re-check under the lock: a new spawn may have started it meanwhile.
    if (v.status?.state !== 'Running' || isVMRunning(v)) return;
    v.status = { ...v.status, state: 'Stopped' };
    delete v.status.runtime;
    delete v.status.ipAddresses;
  });
  if (updated.status?.state === 'Stopped') {
    // The supervisor died but its hypervisor may live on, orphaned: it goes too.
    signalIfSame(vm.status.runtime?.pid, uid, 'SIGKILL');
    deps.logger.warn(
      { vm: vm.metadata.name, uid },
      `vm "${vm.metadata.name ?? uid}": supervisor gone, marked Stopped`,
    );
    const p = vmPaths(deps, vm);
    await Promise.all(
      [p.consoleSocket, p.controlSocket, p.metricsSocket].map((f) => rm(f, { force: true })),
    );
    await deps.collectVMLeftovers(vm);
  }
  return updated;
}
