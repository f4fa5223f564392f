import type { StoredVM } from '../api/index.js';
import { failedPrecondition } from '../errors.js';
import type { Services } from './services.js';
import { stopVM, type StopVMServices } from './stop-vm.js';
import { vmLabel, vmPaths } from './vm-paths.js';
import { isVMRunning, refreshVMState } from './vm-state.js';

export type RemoveVMServices = StopVMServices & Pick<Services, 'config' | 'layout' | 'rootDisks'>;

export interface RemoveVMOptions {
  /** Stop a running VM first (`rm -f`). */
  force?: boolean;
}

/**
 * Removes a VM and everything of it: its supervisor and hypervisor (with -f), network, root disk,
 * keys, logs, sockets and metadata — all of which live in its directory, removed whole, and in
 * its dir under the user's runtime dir, swept with those of other VMs that no process runs.
 */
export async function removeVM(
  s: RemoveVMServices,
  query: string,
  options: RemoveVMOptions = {},
): Promise<string> {
  let vm = await s.client.vms.find(query);
  vm = await refreshVMState(s, vm);
  if (isVMRunning(s, vm)) {
    if (!options.force) {
      throw failedPrecondition(`${vmLabel(vm)}: is running`, {
        hint: 'stop it first, or use rm -f',
      });
    }
    vm = await stopVM(s, vm.metadata.uid, { kill: true });
  }
  await killStrays(s, vm);
  const uid = vm.metadata.uid;
  // What dead VMs left on the network goes with it: an rm is where leftovers are looked for.
  await s.network.sweep();
  await s.network.release({ uid });
  await s.rootDisks.release(vmPaths(s, vm).dir);
  await s.client.vms.delete(uid);
  await sweepRunDirs(s);
  s.logger.info(
    { vm: vm.metadata.name, uid },
    `Removed VM with name "${vm.metadata.name}" and ID "${uid}"`,
  );
  return uid;
}

/**
 * Ends processes of the VM that its record does not know of: a supervisor started by a `run` or
 * reconciler killed before the VM was recorded Running, and its hypervisor. Without this, removing
 * the VM would orphan them with their files deleted.
 */
async function killStrays(s: RemoveVMServices, vm: StoredVM): Promise<void> {
  const uid = vm.metadata.uid;
  if (uid === '') return;
  const dir = vmPaths(s, vm).dir;
  const dataDir = s.config.dataDir;
  const strays = await s.processes.find(
    (argv) =>
      (argv.includes(uid) &&
        argv.some((a) => a === dataDir || a.startsWith(`--data-dir=${dataDir}`))) ||
      argv.some((a) => a.includes(`${dir}/`)),
  );
  if (strays.length === 0) return;
  s.logger.warn(
    { vm: vm.metadata.name, pids: strays.map((p) => p.pid) },
    `${vmLabel(vm)}: ending processes left by an interrupted start`,
  );
  for (const p of strays) s.processes.signalIfSame(p.pid, { startTime: p.startTime }, 'SIGKILL');
  for (const p of strays) await s.processes.waitForExit(p.pid, 5000, { startTime: p.startTime });
}

/**
 * Removes the run dirs (storage/layout.ts) that no live process names: what a VM removed, or a
 * run killed with its supervisor, left under the user's runtime dir. A dir whose UID is in a
 * live process's command line stays: a run starting, or a VM of another data dir of the user.
 * Returns the UIDs swept.
 */
export async function sweepRunDirs(
  s: Pick<RemoveVMServices, 'runtimeFiles' | 'processes' | 'logger'>,
): Promise<string[]> {
  const uids = await s.runtimeFiles.listRunDirs();
  if (uids.length === 0) return [];
  const swept: string[] = [];
  for (const uid of uids) {
    const live = await s.processes.find((argv) => argv.some((a) => a.includes(uid)));
    if (live.length > 0) continue;
    await s.runtimeFiles.removeRunDir(uid);
    swept.push(uid);
  }
  if (swept.length > 0) s.logger.debug({ uids: swept }, 'run dirs of ended VMs removed');
  return swept;
}
