import type { StoredVM } from '../api/index.js';
import { failedPrecondition } from '../errors.js';
import type { Services } from './services.js';
import { askSupervisor } from './supervisor-requests.js';
import { signalSupervised, waitUnsupervised } from './supervision.js';
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
 * the hypervisor at once (both delivered by the host supervisor to the VM's run). If the run does
 * not end in time, the hypervisor is killed here.
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
  const supervisor = vm.status?.runtime?.spawnPid;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const ended = (ms: number) => waitUnsupervised(s, uid, supervisor, ms);
  if (options.save === true) {
    // The supervisor saves, then ends the hypervisor; a failed save leaves the VM running.
    await askSupervisor(s, vm, { op: 'save' }, timeoutMs + 60_000);
    if (await ended(timeoutMs)) return finish(s, uid);
  } else if (!options.kill) {
    if ((await signalSupervised(s, uid, 'SIGTERM')) && (await ended(timeoutMs)))
      return finish(s, uid);
    s.logger.warn(
      { vm: vm.metadata.name },
      `${vmLabel(vm)}: did not power off within ${timeoutMs / 1000} s, killing it`,
    );
  }
  if ((await signalSupervised(s, uid, 'SIGQUIT')) && (await ended(10_000))) return finish(s, uid);
  // The supervisor does not end the run: its hypervisor is killed here (checked again first, as
  // its PID may have gone to another process), which ends the run in any supervisor that lives.
  s.processes.signalIfSame(vm.status?.runtime?.pid, { marker: uid }, 'SIGKILL');
  if (await ended(5_000)) return finish(s, uid);
  // Still not done with it: the run is taken from that supervisor, and cleaned up here. An
  // earlier version's supervisor of this VM alone (no mark) is killed instead, as it was then.
  if (supervisor !== undefined && s.runtimeFiles.supervisedBy(uid) === undefined) {
    s.processes.signalIfSame(supervisor, { marker: uid }, 'SIGKILL');
    await s.processes.waitForExit(supervisor, 5_000, { marker: uid });
  } else if (supervisor !== undefined) {
    await s.runtimeFiles.unmarkSupervised(uid, supervisor);
  }
  return finish(s, uid, { reason: 'Killed', message: 'supervisor did not end the run; killed' });
}

async function finish(s: StopVMServices, uid: string, gone?: GoneExit): Promise<StoredVM> {
  const vm = await s.client.vms.get(uid);
  return refreshVMState(s, vm, gone);
}
