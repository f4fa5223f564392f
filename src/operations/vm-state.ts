import type { StoredVM, VM, VMExit, VMStatus } from '../api/index.js';
import { toAppError } from '../errors.js';
import type { Services } from './services.js';
import { isSupervised } from './supervision.js';
import { vmLabel } from './vm-paths.js';

export type VMStateServices = Pick<
  Services,
  'client' | 'logger' | 'processes' | 'runtimeFiles' | 'network' | 'clock' | 'config'
>;

/** How a VM found recorded Running without its supervisor is recorded to have ended. */
export type GoneExit = Pick<VMExit, 'reason' | 'message'>;

const SUPERVISOR_GONE: GoneExit = { reason: 'Crashed', message: 'supervisor gone' };

/**
 * Whether the VM's supervisor really runs it. Status says Running only while the host supervisor
 * it names lives and still supervises the VM (supervision.ts).
 */
export function isVMRunning(s: Pick<Services, 'processes' | 'runtimeFiles'>, vm: VM): boolean {
  return (
    vm.status?.state === 'Running' &&
    isSupervised(s, vm.metadata.uid ?? '', vm.status.runtime?.spawnPid)
  );
}

/** Whether the VM is placed on a fleet host other than this one (`status.host`). */
function placedElsewhere(s: Pick<Services, 'config'>, vm: VM): boolean {
  const host = vm.status?.host;
  return host !== undefined && host !== s.config.hostName;
}

/**
 * Makes a stored VM tell the truth, both ways. If it says Running but its supervisor is gone
 * (killed, or the host rebooted), it is marked Stopped and what the supervisor would have cleaned
 * up is collected. If it says otherwise while its supervisor runs it (a record restored from a
 * backup, or a write lost in a crash), the run's status is written back. Returns the VM as it now is.
 * A run found ended is recorded as `gone` says: by default it crashed, which a restart policy
 * acts on; a stop that had to kill the supervisor says so instead.
 */
export async function refreshVMState(
  s: VMStateServices,
  vm: StoredVM,
  gone: GoneExit = SUPERVISOR_GONE,
  runRecords?: ReadonlySet<string>,
): Promise<StoredVM> {
  // A VM placed on another fleet host runs there: only that host can tell its state.
  if (placedElsewhere(s, vm)) return vm;
  if (vm.status?.state !== 'Running') {
    if (runRecords !== undefined && !runRecords.has(vm.metadata.uid)) return vm;
    return adoptLiveRun(s, vm);
  }
  if (isVMRunning(s, vm)) return vm;
  const uid = vm.metadata.uid;
  const updated = await s.client.vms.update(uid, (v) => {
    // Re-check under the lock: a new spawn may have started it meanwhile.
    if (v.status?.state !== 'Running' || isVMRunning(s, v) || placedElsewhere(s, v)) return;
    const lastExit: VMExit = { time: s.clock.now().toISOString(), ...gone };
    v.status = { ...v.status, state: 'Stopped', lastExit };
    delete v.status.runtime;
    delete v.status.ipAddresses;
  });
  if (updated.status?.state === 'Stopped') {
    // The supervisor died but its hypervisor may live on, orphaned: it goes too.
    s.processes.signalIfSame(vm.status.runtime?.pid, { marker: uid }, 'SIGKILL');
    s.logger.warn({ vm: vm.metadata.name, uid }, `${vmLabel(vm)}: supervisor gone, marked Stopped`);
    await s.runtimeFiles.removeRunFiles(uid);
    await collectLeftovers(s, uid);
  }
  return updated;
}

/**
 * refreshVMState for each VM of a listing. Which VMs may have a run record is looked up once
 * for all of them where the store can tell (RuntimeFiles.mayHaveRunRecords); each VM that claims
 * to run is still checked on its own.
 */
export function refreshVMStates(s: VMStateServices, vms: StoredVM[]): Promise<StoredVM[]> {
  const runRecords = s.runtimeFiles.mayHaveRunRecords();
  return Promise.all(vms.map((vm) => refreshVMState(s, vm, SUPERVISOR_GONE, runRecords)));
}

/**
 * Records whether the VM should run (`run`, `start`) or not (`stop`, `kill`), which ignited acts
 * on, and with `resetRestarts` starts its restart count over. Written only when that changes
 * something, under the store's lock, so no field another writer (its supervisor) wrote meanwhile
 * is lost.
 */
export async function recordDesiredState(
  s: Pick<Services, 'client'>,
  vm: StoredVM,
  desired: NonNullable<VMStatus['desiredState']>,
  o: { resetRestarts?: boolean } = {},
): Promise<StoredVM> {
  const reset = o.resetRestarts === true && vm.status.restartCount !== undefined;
  if (vm.status.desiredState === desired && !reset) return vm;
  return s.client.vms.update(vm.metadata.uid, (v) => {
    v.status = { ...v.status, desiredState: desired };
    if (reset) delete v.status.restartCount;
  });
}

/**
 * Undoes what a dead supervisor of the VM had attached, and sweeps what other dead VMs left: a
 * supervisor found dead is when leftovers are known to exist.
 */
async function collectLeftovers(s: VMStateServices, uid: string): Promise<void> {
  await s.network.detach({ uid });
  await s.network
    .sweep()
    .catch((err: unknown) =>
      s.logger.warn({ err }, `network: sweep failed: ${toAppError(err).message}`),
    );
}

/**
 * A VM recorded as not running whose supervisor left a run file: if that supervisor still
 * supervises it, the VM runs and its record says so again. A
 * hypervisor left running without its supervisor is ended, as for a VM recorded Running.
 */
async function adoptLiveRun(s: VMStateServices, vm: StoredVM): Promise<StoredVM> {
  const uid = vm.metadata.uid;
  if (uid === undefined || uid === '') return vm;
  const run = s.runtimeFiles.readRunRecord(uid);
  if (run?.state !== 'Running') return vm;
  const label = vmLabel(vm);
  if (isSupervised(s, uid, run.runtime?.spawnPid)) {
    const updated = await s.client.vms.update(uid, (v) => {
      if (v.status?.state === 'Running') return;
      v.status = { ...v.status, ...run, state: 'Running' };
    });
    s.logger.warn(
      { vm: vm.metadata.name, uid },
      `${label}: recorded ${vm.status?.state ?? 'Created'} while its supervisor runs it; recorded Running again`,
    );
    return updated;
  }
  const hv = run.runtime?.pid;
  if (hv !== undefined && s.processes.signalIfSame(hv, { marker: uid }, 'SIGKILL')) {
    s.logger.warn({ vm: vm.metadata.name, uid }, `${label}: supervisor gone; hypervisor ended`);
    await collectLeftovers(s, uid);
    await s.runtimeFiles.removeRunRecord(uid);
  }
  return vm;
}
