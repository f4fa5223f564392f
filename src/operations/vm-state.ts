import { rm } from 'node:fs/promises';
import type { VM } from '../api/index.js';
import { isProcessAlive, signalIfSame } from '../system/process.js';
import type { OperationDeps } from './deps.js';
import { runRecordPath, vmPaths } from './vm-paths.js';
import { readRunRecord } from './vm-run-record.js';

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
 * Makes a stored VM tell the truth, both ways. If it says Running but its supervisor is gone
 * (killed, or the host rebooted), it is marked Stopped and what the supervisor would have cleaned
 * up is collected. If it says otherwise while its supervisor runs it (a record restored from a
 * backup, or a write lost in a crash), the run's status is written back. Returns the VM as it now is.
 */
export async function refreshVMState(
  deps: Pick<OperationDeps, 'client' | 'logger' | 'collectVMLeftovers'>,
  vm: VM,
): Promise<VM> {
  if (vm.status?.state !== 'Running') return adoptLiveRun(deps, vm);
  if (isVMRunning(vm)) return vm;
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
      [p.consoleSocket, p.controlSocket, p.metricsSocket, p.runRecord].map((f) =>
        rm(f, { force: true }),
      ),
    );
    await deps.collectVMLeftovers(vm);
  }
  return updated;
}

/**
 * A VM recorded as not running whose supervisor left a run file: if that supervisor (PID and the
 * VM's UID in its command line) still lives, the VM runs and its record says so again. A
 * hypervisor left running without its supervisor is ended, as for a VM recorded Running.
 */
async function adoptLiveRun(
  deps: Pick<OperationDeps, 'client' | 'logger' | 'collectVMLeftovers'>,
  vm: VM,
): Promise<VM> {
  const uid = vm.metadata.uid ?? '';
  const dir = uid === '' ? undefined : deps.client.vms.objectDir(uid);
  if (dir === undefined) return vm;
  const runFile = runRecordPath(dir);
  const run = await readRunRecord(runFile);
  if (run?.state !== 'Running') return vm;
  const label = `vm "${vm.metadata.name ?? uid}"`;
  if (isProcessAlive(run.runtime?.spawnPid, uid)) {
    const updated = await deps.client.vms.update(uid, (v) => {
      if (v.status?.state === 'Running') return;
      v.status = { ...v.status, ...run };
    });
    deps.logger.warn(
      { vm: vm.metadata.name, uid },
      `${label}: recorded ${vm.status?.state ?? 'Created'} while its supervisor runs it; recorded Running again`,
    );
    return updated;
  }
  const hv = run.runtime?.pid;
  if (hv !== undefined && signalIfSame(hv, uid, 'SIGKILL')) {
    deps.logger.warn({ vm: vm.metadata.name, uid }, `${label}: supervisor gone; hypervisor ended`);
    await deps.collectVMLeftovers(vm);
    await rm(runFile, { force: true });
  }
  return vm;
}
