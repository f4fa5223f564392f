import type { StoredVM } from '../api/index.js';
import { failedPrecondition } from '../errors.js';
import type { Services } from './services.js';
import { askSupervisor } from './supervisor-requests.js';
import { vmLabel, vmPaths } from './vm-paths.js';
import {
  isVMRunning,
  recordDesiredState,
  refreshVMState,
  type GoneExit,
  type VMStateServices,
} from './vm-state.js';

export type StopVMServices = VMStateServices &
  Pick<Services, 'processes' | 'layout' | 'requests' | 'stateFiles'>;

export interface StopVMOptions {
  /** Skip the graceful shutdown: end the hypervisor at once (`ignite kill`, `stop -f`). */
  kill?: boolean;
  /** How long the guest gets to power off before it is killed. */
  timeoutMs?: number;
  /**
   * Save the guest's memory and device state first (`stop --save`): the next start resumes it
   * instead of booting, and the VM keeps its address meanwhile. Without it, a saved state is
   * discarded, so the next start boots afresh.
   */
  save?: boolean;
}

/**
 * Stops a running VM through its supervisor: SIGTERM asks the guest to power off, SIGQUIT ends
 * the hypervisor at once. If the supervisor does not finish in time, it and the hypervisor are
 * killed and the leftovers collected, so a stop always ends with the VM Stopped.
 * Either way the VM is first recorded as one that should not run (`status.desiredState`), so
 * ignited neither restarts it by its policy nor starts it after a reboot; for a VM that is not
 * running that is all there is to do (besides discarding a saved state, unless `save`).
 */
export async function stopVM(
  s: StopVMServices,
  query: string,
  options: StopVMOptions = {},
): Promise<StoredVM> {
  let vm = await s.client.vms.find(query);
  vm = await recordDesiredState(s, vm, 'Stopped');
  vm = await refreshVMState(s, vm);
  const saved = vmPaths(s, vm).savedState;
  if (options.save !== true) await s.stateFiles.remove(saved);
  if (!isVMRunning(s, vm)) {
    if (options.save === true && !(await s.stateFiles.has(saved)))
      throw failedPrecondition(`${vmLabel(vm)}: not running, so there is no state to save`);
    s.logger.info({ vm: vm.metadata.name }, `${vmLabel(vm)}: not running`);
    return vm;
  }
  const uid = vm.metadata.uid;
  const same = { marker: uid };
  const spawnPid = vm.status?.runtime?.spawnPid ?? 0;
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (options.save === true) {
    // The supervisor saves, then ends the hypervisor; a failed save leaves the VM running.
    await askSupervisor(s, vm, { op: 'save' }, timeoutMs + 60_000);
    if (await s.processes.waitForExit(spawnPid, timeoutMs, same)) return finish(s, uid);
  } else if (!options.kill) {
    s.processes.signalIfSame(spawnPid, same, 'SIGTERM');
    if (await s.processes.waitForExit(spawnPid, timeoutMs, same)) return finish(s, uid);
    s.logger.warn(
      { vm: vm.metadata.name },
      `${vmLabel(vm)}: did not power off within ${timeoutMs / 1000} s, killing it`,
    );
  }
  s.processes.signalIfSame(spawnPid, same, 'SIGQUIT');
  if (await s.processes.waitForExit(spawnPid, 10_000, same)) return finish(s, uid);
  // The supervisor is stuck: end it and its hypervisor, and clean up in its place. Each PID is
  // checked again first: either may have exited meanwhile and its PID gone to another process.
  s.processes.signalIfSame(spawnPid, same, 'SIGKILL');
  s.processes.signalIfSame(vm.status?.runtime?.pid, same, 'SIGKILL');
  await s.processes.waitForExit(spawnPid, 5_000, same);
  return finish(s, uid, { reason: 'Killed', message: 'supervisor did not exit; killed' });
}

async function finish(s: StopVMServices, uid: string, gone?: GoneExit): Promise<StoredVM> {
  const vm = await s.client.vms.get(uid);
  return refreshVMState(s, vm, gone);
}
