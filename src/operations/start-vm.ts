import type { StoredVM } from '../api/index.js';
import { AppError, failedPrecondition, toAppError, unavailable } from '../errors.js';
import { toDecodedForm } from '../storage/decoded-form.js';
import type { LogLevel } from '../system/logger.js';
import type { Services } from './services.js';
import {
  ensureHostSupervisor,
  loggedLevel,
  type HostSupervisorRequest,
  type PingAnswer,
} from './supervision.js';
import { requireRootForNetwork, vmLabel, vmPaths } from './vm-paths.js';
import { checkVolumeConflicts } from './vm-volumes.js';
import {
  isVMRunning,
  recordDesiredState,
  refreshVMState,
  type VMStateServices,
} from './vm-state.js';

export type StartVMServices = VMStateServices &
  Pick<
    Services,
    'config' | 'layout' | 'clock' | 'host' | 'spawnCommand' | 'stateFiles' | 'trace' | 'requests'
  >;

export interface StartVMOptions {
  /** How long to wait for the supervisor to report the VM running. */
  timeoutMs?: number;
  /** The supervisor's log level for this VM, when it differs from this process's (`run --debug`). */
  logLevel?: LogLevel;
  /**
   * Who asks. A user (`run`, `start`; the default) starts the restart count over, as Docker
   * does. ignited restarts a VM by its restart policy (`policy`: its supervisor counts it in
   * `status.restartCount` as it records the VM Running), or brings back one that should run
   * (`resume`: counted as neither).
   */
  by?: 'user' | 'policy' | 'resume';
  /** Added to the VM's environment in its supervisor (a fleet host's first fence deadline). */
  env?: NodeJS.ProcessEnv;
  /** A host supervisor being made sure of meanwhile (prestartSupervisor). */
  supervisor?: Promise<number>;
}

/**
 * Starts a created or stopped VM: hands it to the host supervisor (started when none answers),
 * and waits until the VM is recorded Running, or fails with what kept it from running. Either
 * way the VM is recorded as one that should run (`status.desiredState`), which ignited keeps
 * true. Starting a running VM is a no-op, as `docker start` is.
 */
export async function startVM(
  s: StartVMServices,
  query: string,
  options: StartVMOptions = {},
): Promise<StoredVM> {
  const found = await s.client.vms.find(query);
  return startVMByUID(s, found.metadata.uid, options);
}

/** startVM for a VM known by its UID (one just created), without looking it up among all. */
export function startVMByUID(
  s: StartVMServices,
  uid: string,
  options: StartVMOptions = {},
): Promise<StoredVM> {
  // One start of a VM at a time, across processes: a user's `start` and ignited restarting the
  // same VM would otherwise both hand it to a supervisor, and both fail on the disk's write lock.
  // The second to come finds the VM running and returns it.
  return s.runtimeFiles.withStartLock(uid, () => startUnlocked(s, uid, options));
}

async function startUnlocked(
  s: StartVMServices,
  uid: string,
  options: StartVMOptions,
): Promise<StoredVM> {
  const read = await s.client.vms.getKnown(uid);
  let vm = read?.obj ?? (await s.client.vms.get(uid));
  vm = await refreshVMState(s, vm);
  if (isVMRunning(s, vm)) {
    vm = await recordDesiredState(s, vm, 'Running');
    s.logger.info({ vm: vm.metadata.name }, `${vmLabel(vm)}: already running`);
    return vm;
  }
  const by = options.by ?? 'user';
  vm = await recordDesiredState(s, vm, 'Running', { resetRestarts: by === 'user' });
  const paths = vmPaths(s, vm);
  if ((await s.runtimeFiles.rootDisk(uid)) === undefined) {
    throw failedPrecondition(`${vmLabel(vm)}: its root disk is missing`, {
      hint: 'remove the VM and create it again',
    });
  }
  requireRootForNetwork(vm, s.host.isRoot);
  // Said here as what it is; the supervisor checks again under the volume lock.
  await checkVolumeConflicts(s, vm, uid);
  // The VM as read here, unless this start wrote it since: its supervisor need not decode it.
  const form = read !== undefined && vm === read.obj ? toDecodedForm(vm) : undefined;
  const request: HostSupervisorRequest = {
    op: 'supervise',
    uid,
    ...(read !== undefined && form !== undefined
      ? { known: { checksum: read.checksum, form } }
      : {}),
    env: stringEnv({ ...s.config.env, ...options.env }),
    // The VM's log is as verbose as this command's, or as asked (`run --debug`); never silent.
    logLevel: loggedLevel(options.logLevel ?? s.config.logLevel),
    ...(by === 'policy' ? { policyRestart: true } : {}),
  };
  const timeoutMs = options.timeoutMs ?? 120_000;
  const name = vm.metadata.name;
  const socket = s.layout.hostSupervisorSocket;
  let supervisor = options.supervisor;
  for (let attempt = 0; ; attempt++) {
    await (supervisor ?? ensureHostSupervisor(s));
    s.trace.mark('start: supervisor found');
    try {
      const answer = (await s.requests.request(socket, request, timeoutMs)) as Partial<PingAnswer>;
      s.logger.debug({ vm: name, uid, spawnPid: answer.pid }, 'supervised');
      return await s.client.vms.get(uid);
    } catch (err) {
      const e = toAppError(err);
      // The socket's own failures name it; the supervisor's answers name the VM.
      const transport = e.code === 'Unavailable' && e.message.startsWith(`${socket}: `);
      // A supervisor that ended (idle) as this came is started again, once.
      if (
        attempt === 0 &&
        (/shutting down/.test(e.message) || (transport && /connect/.test(e.message)))
      ) {
        supervisor = undefined;
        continue;
      }
      if (transport && /no answer within/.test(e.message))
        throw unavailable(
          `${vmLabel(vm)}: did not report running within ${Math.round(timeoutMs / 1000)} s`,
          { cause: err },
        );
      const why = transport
        ? `the supervisor ended: ${lastError(await s.runtimeFiles.readSpawnLog(uid))}`
        : stripLabel(e.message, vmLabel(vm));
      // The supervisor keeps a state it could not resume; only the user may throw it away.
      const hint = (await s.stateFiles.has(paths.savedState))
        ? `its saved state was not resumed: \`ignite stop ${name}\` discards it, and \`ignite start ${name}\` then boots it afresh (details: ignite logs --spawn ${name})`
        : `see ignite logs --spawn ${name}`;
      throw new AppError('Unavailable', `${vmLabel(vm)}: failed to start: ${why}`, {
        hint,
        cause: err,
      });
    }
  }
}

/** A message that already leads with the VM's label is not given it twice. */
function stripLabel(message: string, label: string): string {
  return message.startsWith(`${label}: `) ? message.slice(label.length + 2) : message;
}

function stringEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

/**
 * Makes sure of the host supervisor while the caller does other work (`run` creates the VM
 * meanwhile): when none runs, its start-up (a Node process) then overlaps that work instead of
 * following it. Pass the promise to startVM as `supervisor`.
 */
export function prestartSupervisor(s: StartVMServices): Promise<number> {
  const p = ensureHostSupervisor(s);
  p.catch(() => undefined);
  return p;
}

/** startVM, with the host supervisor made sure of while the VM is checked (the CLI's `start`). */
export async function startVMAhead(
  s: StartVMServices,
  query: string,
  options: StartVMOptions = {},
): Promise<StoredVM> {
  const supervisor = prestartSupervisor(s);
  return startVM(s, query, { ...options, supervisor });
}

/** The message of the last error line the supervisor logged (pino JSON lines), or its last line. */
export function lastError(log: string | undefined): string {
  if (log === undefined) return 'the supervisor exited without a log';
  const lines = log.trim().split('\n').slice(-50);
  for (const line of lines.reverse()) {
    try {
      const rec = JSON.parse(line) as { level?: number; msg?: string };
      if ((rec.level ?? 0) >= 50 && rec.msg) return rec.msg;
    } catch {
      if (/error/i.test(line)) return line.replace(/^Error:\s*/, '');
    }
  }
  return lines[0] ?? 'the supervisor exited';
}
