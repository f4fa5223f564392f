import type { VM } from '../api/index.js';
import { signalIfSame, waitForExit } from '../system/process.js';
import type { OperationDeps } from './deps.js';
import { vmLabel } from './vm-paths.js';
import { isVMRunning, refreshVMState } from './vm-state.js';

export interface StopVMOptions {
  /** Skip the graceful shutdown: end the hypervisor at once (`ignite kill`, `stop -f`). */
  kill?: boolean;
  /** How long the guest gets to power off before it is killed. */
  timeoutMs?: number;
}

/**
 * Stops a running VM through its supervisor: SIGTERM asks the guest to power off, SIGQUIT ends
 * the hypervisor at once. If the supervisor does not finish in time, it and the hypervisor are
 * killed and the leftovers collected, so a stop always ends with the VM Stopped.
 * Stopping a VM that is not running is a no-op.
 */
export async function stopVM(
  deps: OperationDeps,
  query: string,
  options: StopVMOptions = {},
): Promise<VM> {
  let vm = await deps.client.vms.find(query);
  vm = await refreshVMState(deps, vm);
  if (!isVMRunning(vm)) {
    deps.logger.info({ vm: vm.metadata.name }, `${vmLabel(vm)}: not running`);
    return vm;
  }
  const uid = vm.metadata.uid ?? '';
  const spawnPid = vm.status?.runtime?.spawnPid ?? 0;
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!options.kill) {
    signalIfSame(spawnPid, uid, 'SIGTERM');
    if (await waitForExit(spawnPid, timeoutMs, uid)) return finish(deps, uid);
    deps.logger.warn(
      { vm: vm.metadata.name },
      `${vmLabel(vm)}: did not power off within ${timeoutMs / 1000} s, killing it`,
    );
  }
  signalIfSame(spawnPid, uid, 'SIGQUIT');
  if (await waitForExit(spawnPid, 10_000, uid)) return finish(deps, uid);
  // The supervisor is stuck: end it and its hypervisor, and clean up in its place. Each PID is
  // checked again first: either may have exited meanwhile and its PID gone to another process.
  signalIfSame(spawnPid, uid, 'SIGKILL');
  signalIfSame(vm.status?.runtime?.pid, uid, 'SIGKILL');
  await waitForExit(spawnPid, 5_000, uid);
  return finish(deps, uid);
}

async function finish(deps: OperationDeps, uid: string): Promise<VM> {
  const vm = await deps.client.vms.get(uid);
  return refreshVMState(deps, vm);
}
