import { newUID, type StoredVM } from '../api/index.js';
import type { LogLevel } from '../system/logger.js';
import { vmManifest } from './build-vm.js';
import { createVM, type CreateVMOptions, type CreateVMServices } from './create-vm.js';
import { checkVolumeConflicts } from './vm-volumes.js';
import { prestartSupervisor, startVMByUID, type StartVMServices } from './start-vm.js';
import type { Services } from './services.js';
import { waitUnsupervised } from './supervision.js';
import { waitForSSH, type WaitForSSHServices } from './wait-for-ssh.js';

/** How long a failed start waits for its supervision to end before leaving the network to it. */
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
 * `run`: creates a VM and starts it. The host supervisor is made sure of while the VM is being
 * created. A VM with SSH enabled is returned only once its SSH server answers, as Ignite's
 * `run --ssh` did, so the next command can `exec` into it.
 */
export async function runVM(
  s: RunVMServices,
  create: CreateVMOptions,
  options: RunVMOptions,
): Promise<StoredVM> {
  const uid = create.manifest?.metadata.uid ?? newUID();
  const level = options.spawnLogLevel !== undefined ? { logLevel: options.spawnLogLevel } : {};
  s.trace.mark('run');
  const supervisor = prestartSupervisor(s);
  // Refused before the VM is made: a named volume another running VM holds read-write.
  if (create.fromSnapshot === undefined) await checkVolumeConflicts(s, vmManifest(create));
  const created = await createVM(s, { ...create, uid, toRun: true });
  s.trace.mark('created');
  let vm: StoredVM;
  try {
    vm = await startVMByUID(s, created.metadata.uid, {
      timeoutMs: options.startTimeoutMs,
      supervisor,
      ...level,
    });
  } catch (err) {
    // A supervision that ended (refused, or failed) has undone what it took over; what it never
    // took over is undone here. One still going owns the network, as a VM still starting.
    if (await waitUnsupervised(s, uid, s.runtimeFiles.supervisedBy(uid), SUPERVISOR_EXIT_MS))
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
