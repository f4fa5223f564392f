import { newUID, type StoredVM } from '../api/index.js';
import type { LogLevel } from '../system/logger.js';
import type { ProcessRef } from '../system/processes.js';
import { vmManifest } from './build-vm.js';
import { createVM, type CreateVMOptions, type CreateVMServices } from './create-vm.js';
import { checkVolumeConflicts } from './vm-volumes.js';
import { prestartSupervisor, startVM, type StartVMServices } from './start-vm.js';
import type { Services } from './services.js';
import { waitForSSH, type WaitForSSHServices } from './wait-for-ssh.js';

/** How long a failed start waits for the supervisor to end before leaving the network to it. */
const SUPERVISOR_EXIT_MS = 5000;

export type RunVMServices = CreateVMServices &
  StartVMServices &
  WaitForSSHServices &
  Pick<Services, 'trace'>;

export interface RunVMOptions {
  /** How long the supervisor gets to report the VM running. */
  startTimeoutMs: number;
  /** With SSH enabled, how long the guest's SSH server gets to answer before `run` fails. */
  sshTimeoutMs: number;
  /** The supervisor's log level, when it differs (`--debug` keeps it verbose). */
  spawnLogLevel?: LogLevel;
}

/**
 * `run`: creates a VM and starts it. The VM's UID is chosen first so its supervisor starts while
 * the VM is being created, and the VM's network is attached while its root disk is built, for
 * the supervisor to take over (until it does, undoing it is this function's). A VM with SSH enabled is returned only once its SSH server answers, as
 * Ignite's `run --ssh` did, so the next command can `exec` into it.
 */
export async function runVM(
  s: RunVMServices,
  create: CreateVMOptions,
  options: RunVMOptions,
): Promise<StoredVM> {
  const uid = create.manifest?.metadata.uid ?? newUID();
  const level = options.spawnLogLevel !== undefined ? { logLevel: options.spawnLogLevel } : {};
  s.trace.mark('run');
  const supervisor = await prestartSupervisor(s, uid, { ...level, reuseNetwork: true });
  s.trace.mark('supervisor spawned');
  let created: StoredVM;
  try {
    // Refused before the VM is made: a named volume another running VM holds read-write.
    if (create.fromSnapshot === undefined) await checkVolumeConflicts(s, vmManifest(create));
    created = await createVM(s, { ...create, uid }, { attachNetwork: true });
  } catch (err) {
    await supervisor.abandon();
    throw err;
  }
  s.trace.mark('created');
  let vm: StoredVM;
  // The supervisor the start waits on: the prestarted one, or one started anew if it died.
  let waited: ProcessRef = supervisor;
  try {
    vm = await startVM(s, uid, {
      timeoutMs: options.startTimeoutMs,
      prestarted: supervisor,
      onSupervisor: (proc) => (waited = proc),
      ...level,
    });
  } catch (err) {
    // A supervisor that ended (refused, or failed) has undone what it took over; what it never
    // took over is undone here. One still running owns the network, as a VM still starting.
    const identity = {
      marker: uid,
      ...(waited.startTime !== undefined ? { startTime: waited.startTime } : {}),
    };
    if (await s.processes.waitForExit(waited.pid, SUPERVISOR_EXIT_MS, identity))
      await s.network.detach({ uid }).catch(() => undefined);
    throw err;
  }
  s.trace.mark('running');
  // In user mode the guest's SSH is reached through its forwarded port on the host's loopback.
  const sshPort = vm.status?.network?.sshPort;
  const ip = sshPort !== undefined ? '127.0.0.1' : vm.status?.ipAddresses?.[0];
  if (created.spec.ssh !== undefined && created.spec.ssh !== false && ip !== undefined)
    await waitForSSH(s, uid, ip, {
      timeoutMs: options.sshTimeoutMs,
      ...(sshPort !== undefined ? { port: sshPort } : {}),
    });
  return vm;
}
