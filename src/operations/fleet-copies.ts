import type { StoredVM, VM } from '../api/index.js';
import type { Services } from './services.js';
import { ownerOf, updateOwnedVM } from './vm-owner.js';

export type FleetCopiesServices = Pick<
  Services,
  'client' | 'logger' | 'processes' | 'runtimeFiles' | 'network'
>;

/** Whether the VM is placed on `host`: only that host's agent and supervisors act on it. */
export function placedOn(vm: VM, host: string): boolean {
  return vm.status?.host === host;
}

/** Whether the scheduler may move the VM to another host (`--reschedule`). */
export function isReplaceable(vm: VM): boolean {
  return vm.spec.placement?.reschedule === true;
}

/**
 * Kills the hypervisor of this host's copy of a VM, as its run record names it: the stored object
 * may be another host's by now, so it is not read or written. Its supervisor (the host's, which
 * supervises other VMs too) then ends the run, writing the VM only while it is placed here. The
 * VM's UID in the hypervisor's command line guards against a reused PID. Returns whether it was
 * killed.
 */
export function killLocalCopy(
  s: Pick<Services, 'processes' | 'runtimeFiles'>,
  uid: string,
): boolean {
  const run = s.runtimeFiles.readRunRecord(uid)?.runtime;
  return s.processes.signalIfSame(run?.pid, { marker: uid }, 'SIGKILL');
}

/** Kills the local copies of the replaceable VMs among `vms` placed on `host`; returns those killed. */
export function killReplaceableCopies(
  s: Pick<Services, 'processes' | 'runtimeFiles' | 'logger'>,
  vms: readonly StoredVM[],
  host: string,
): StoredVM[] {
  const killed: StoredVM[] = [];
  for (const vm of vms) {
    if (!placedOn(vm, host) || !isReplaceable(vm)) continue;
    if (!killLocalCopy(s, vm.metadata.uid)) continue;
    killed.push(vm);
    s.logger.warn(
      { vm: vm.metadata.name, uid: vm.metadata.uid },
      `vm "${vm.metadata.name}": killed, as this host's lease was lost and it may be moved`,
    );
  }
  return killed;
}

/**
 * Records the VMs killed for a lost lease as fenced, those still placed here under the same
 * placement, so that the agent starts them again; the others are another host's now.
 */
export async function recordFenced(
  s: Pick<Services, 'client' | 'clock' | 'runtimeFiles'>,
  killed: readonly StoredVM[],
  host: string,
): Promise<void> {
  for (const vm of killed) {
    const uid = vm.metadata.uid;
    await s.runtimeFiles.removeRunFiles(uid).catch(() => undefined);
    await updateOwnedVM(s, uid, ownerOf(vm, host), (v) => {
      v.status = {
        ...v.status,
        state: 'Stopped',
        lastExit: { time: s.clock.now().toISOString(), reason: 'Fenced' },
      };
      delete v.status.runtime;
      delete v.status.ipAddresses;
    });
  }
}

/**
 * Removes this host's copies of VMs that are gone from the store or placed elsewhere: kills their
 * processes and removes their directory and network reservation, without writing their objects
 * (another host owns them now). `vms` is the store's list, read after this host's lease was put.
 * Returns the UIDs removed.
 */
export async function removeForeignCopies(
  s: FleetCopiesServices,
  vms: readonly StoredVM[],
  host: string,
): Promise<string[]> {
  const byUID = new Map(vms.map((vm) => [vm.metadata.uid, vm]));
  const removed: string[] = [];
  for (const uid of await s.runtimeFiles.listVMDirs()) {
    const vm = byUID.get(uid);
    if (vm !== undefined && placedOn(vm, host)) continue;
    const killed = killLocalCopy(s, uid);
    await s.network.release({ uid }).catch(() => undefined);
    await s.runtimeFiles.removeVMDir(uid);
    removed.push(uid);
    if (killed || vm?.status.host !== undefined)
      s.logger.info(
        { uid, placedOn: vm?.status.host },
        vm === undefined
          ? `vm "${uid}": removed from the store; its local copy is removed`
          : `vm "${vm.metadata.name}": placed on ${vm.status.host ?? 'no host'}; its local copy is removed`,
      );
  }
  return removed;
}
