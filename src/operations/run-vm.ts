import { newUID, type VM } from '../api/index.js';
import { createVM, type CreateVMDeps, type CreateVMOptions } from './create-vm.js';
import type { OperationDeps } from './deps.js';
import { prestartSupervisor, startVM } from './start-vm.js';
import { waitForSSH } from './wait-for-ssh.js';

export interface RunVMOptions {
  /** How long the supervisor gets to report the VM running. */
  startTimeoutMs: number;
  /** With SSH enabled, how long the guest's SSH server gets to answer before `run` fails. */
  sshTimeoutMs: number;
  /** The supervisor's dependencies, when they differ (a more verbose log level for `--debug`). */
  spawnDeps?: OperationDeps;
}

/**
 * `run`: creates a VM and starts it. The VM's UID is chosen first so its supervisor starts while
 * the VM is being created. A VM with SSH enabled is returned only once its SSH server answers, as
 * Ignite's `run --ssh` did, so the next command can `exec` into it.
 */
export async function runVM(
  deps: CreateVMDeps,
  create: CreateVMOptions,
  options: RunVMOptions,
): Promise<VM> {
  const uid = create.manifest?.metadata.uid ?? newUID();
  const spawnDeps = options.spawnDeps ?? deps;
  const supervisor = await prestartSupervisor(spawnDeps, uid);
  let created: VM;
  try {
    created = await createVM(deps, { ...create, uid });
  } catch (err) {
    await supervisor.abandon();
    throw err;
  }
  const vm = await startVM(spawnDeps, uid, {
    timeoutMs: options.startTimeoutMs,
    prestarted: supervisor,
  });
  const ip = vm.status?.ipAddresses?.[0];
  if (created.spec.ssh !== undefined && created.spec.ssh !== false && ip !== undefined)
    await waitForSSH(deps, uid, ip, { timeoutMs: options.sshTimeoutMs });
  return vm;
}
