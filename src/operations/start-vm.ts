import type { StoredVM } from '../api/index.js';
import { failedPrecondition, unavailable } from '../errors.js';
import type { LogLevel } from '../system/logger.js';
import type { ProcessRef } from '../system/processes.js';
import type { Services } from './services.js';
import { requireRootForNetwork, vmLabel, vmPaths } from './vm-paths.js';
import { checkVolumeConflicts } from './vm-volumes.js';
import {
  isVMRunning,
  recordDesiredState,
  refreshVMState,
  type VMStateServices,
} from './vm-state.js';

export type StartVMServices = VMStateServices &
  Pick<Services, 'config' | 'layout' | 'clock' | 'host' | 'spawnCommand' | 'stateFiles' | 'trace'>;

export interface StartVMOptions {
  /** A supervisor already started with prestartSupervisor for this VM. */
  prestarted?: ProcessRef;
  /** How long to wait for the supervisor to report the VM running. */
  timeoutMs?: number;
  /** The supervisor's log level, when it differs from this process's (`run --debug`). */
  logLevel?: LogLevel;
  /**
   * Who asks. A user (`run`, `start`; the default) starts the restart count over, as Docker
   * does. ignited restarts a VM by its restart policy (`policy`: its supervisor counts it in
   * `status.restartCount` as it records the VM Running), or brings back one that should run
   * (`resume`: counted as neither).
   */
  by?: 'user' | 'policy' | 'resume';
  /** Added to the supervisor's environment (a fleet host's first fence deadline). */
  env?: NodeJS.ProcessEnv;
  /** Told which supervisor the start waits on: the prestarted one, or one started anew. */
  onSupervisor?: (proc: ProcessRef) => void;
}

/**
 * Starts a created or stopped VM: launches its ignite-spawn supervisor, detached, and waits until
 * the supervisor reports it Running (or dies, whose last log line then becomes the error).
 * Either way the VM is recorded as one that should run (`status.desiredState`), which ignited
 * keeps true. Starting a running VM is a no-op, as `docker start` is.
 */
export async function startVM(
  s: StartVMServices,
  query: string,
  options: StartVMOptions = {},
): Promise<StoredVM> {
  const found = await s.client.vms.find(query);
  // One start of a VM at a time, across processes: a user's `start` and ignited restarting the
  // same VM would otherwise both launch a supervisor, and both fail on the disk's write lock.
  // The second to come finds the VM running and returns it.
  return s.runtimeFiles.withStartLock(found.metadata.uid, () =>
    startUnlocked(s, found.metadata.uid, options),
  );
}

async function startUnlocked(
  s: StartVMServices,
  uid: string,
  options: StartVMOptions,
): Promise<StoredVM> {
  let vm = await s.client.vms.get(uid);
  vm = await refreshVMState(s, vm);
  // A supervisor started ahead for a start that does not happen is told to give up (SIGTERM).
  const giveUp = () => {
    if (options.prestarted !== undefined) s.processes.signal(options.prestarted.pid, 'SIGTERM');
  };
  if (isVMRunning(s, vm)) {
    giveUp();
    vm = await recordDesiredState(s, vm, 'Running');
    s.logger.info({ vm: vm.metadata.name }, `${vmLabel(vm)}: already running`);
    return vm;
  }
  const by = options.by ?? 'user';
  vm = await recordDesiredState(s, vm, 'Running', { resetRestarts: by === 'user' });
  const paths = vmPaths(s, vm);
  try {
    if ((await s.runtimeFiles.rootDisk(uid)) === undefined) {
      throw failedPrecondition(`${vmLabel(vm)}: its root disk is missing`, {
        hint: 'remove the VM and create it again',
      });
    }
    requireRootForNetwork(vm, s.host.isRoot);
    // Said here as what it is; the supervisor checks again under the volume lock.
    await checkVolumeConflicts(s, vm, uid);
  } catch (err) {
    giveUp();
    throw err;
  }
  let proc: ProcessRef;
  const marker = uid;
  const prestarted = options.prestarted;
  if (
    prestarted !== undefined &&
    s.processes.isAlive(prestarted.pid, { startTime: prestarted.startTime, marker })
  ) {
    // A supervisor started ahead (by `run`, while the VM was being created) waits for this.
    proc = prestarted;
    // Before its handler is installed SIGUSR2 would kill it: wait until it catches the signal.
    const deadline = s.clock.now().getTime() + 10_000;
    while (!(await s.processes.catchesSignal(proc.pid, 12)) && s.clock.now().getTime() < deadline)
      await s.clock.sleep(5);
    s.processes.signal(proc.pid, 'SIGUSR2');
    s.trace.mark('start: go sent');
  } else {
    proc = s.processes.spawnDetached(s.spawnCommand.file, spawnArgs(s, uid, false, options), {
      logFile: paths.spawnLog,
      env: options.env !== undefined ? { ...s.config.env, ...options.env } : s.config.env,
    });
  }
  const pid = proc.pid;
  options.onSupervisor?.(proc);
  s.logger.debug({ vm: vm.metadata.name, uid, spawnPid: pid }, 'started ignite-spawn');

  const timeoutMs = options.timeoutMs ?? 120_000;
  const deadline = s.clock.now().getTime() + timeoutMs;
  while (s.clock.now().getTime() < deadline) {
    const cur = await s.client.vms.get(uid);
    if (cur.status?.state === 'Running' && cur.status.runtime?.spawnPid === pid) return cur;
    if (!s.processes.isAlive(pid, { startTime: proc.startTime, marker })) {
      const log = await s.runtimeFiles.readSpawnLog(uid);
      const name = vm.metadata.name;
      // The supervisor keeps a state it could not resume; only the user may throw it away.
      const hint = (await s.stateFiles.has(paths.savedState))
        ? `its saved state was not resumed: \`ignite stop ${name}\` discards it, and \`ignite start ${name}\` then boots it afresh (details: ignite logs --spawn ${name})`
        : `see ignite logs --spawn ${name}`;
      throw unavailable(`${vmLabel(vm)}: failed to start: ${lastError(log)}`, { hint });
    }
    await s.clock.sleep(25);
  }
  throw unavailable(
    `${vmLabel(vm)}: did not report running within ${Math.round(timeoutMs / 1000)} s`,
  );
}

/**
 * startVM for a front end that waits for the VM, as the CLI's `start`: the supervisor is started
 * first, with `--wait-signal`, and loads while startVM checks and records the VM, so its start-up
 * (a Node process) overlaps that work instead of following it, as `run` does. A VM found running
 * meanwhile, or a start refused, tells it to give up.
 */
export async function startVMAhead(
  s: StartVMServices,
  query: string,
  options: Omit<StartVMOptions, 'prestarted'> = {},
): Promise<StoredVM> {
  const vm = await refreshVMState(s, await s.client.vms.find(query));
  if (isVMRunning(s, vm)) return startVM(s, vm.metadata.uid, options);
  const prestarted = await prestartSupervisor(s, vm.metadata.uid, {
    ...(options.logLevel !== undefined ? { logLevel: options.logLevel } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
    ...(options.by !== undefined ? { by: options.by } : {}),
  });
  return startVM(s, vm.metadata.uid, { ...options, prestarted });
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

function spawnArgs(
  s: Pick<Services, 'config' | 'spawnCommand'>,
  uid: string,
  wait: boolean,
  o: PrestartOptions,
): string[] {
  const configured = o.logLevel ?? s.config.logLevel;
  const level = configured === 'silent' ? 'info' : configured;
  return [
    ...s.spawnCommand.args,
    uid,
    '--data-dir',
    s.config.dataDir,
    '--log-level',
    level,
    ...(wait ? ['--wait-signal'] : []),
    ...(o.by === 'policy' ? ['--policy-restart'] : []),
    ...(o.reuseNetwork === true ? ['--reuse-network'] : []),
  ];
}

interface PrestartOptions {
  logLevel?: LogLevel | undefined;
  env?: NodeJS.ProcessEnv;
  by?: StartVMOptions['by'];
  /** The supervisor takes over the network attachment made before it is told to go (`run`). */
  reuseNetwork?: boolean;
}

/**
 * Starts a VM's supervisor before the VM exists, to wait (for SIGUSR2) until `startVM` hands it
 * the finished VM: its start-up then overlaps the VM's creation, which shortens `run`. If the
 * creation fails, `abandon()` ends it and removes what it wrote.
 */
export async function prestartSupervisor(
  s: Pick<Services, 'config' | 'layout' | 'client' | 'processes' | 'runtimeFiles' | 'spawnCommand'>,
  uid: string,
  o: PrestartOptions = {},
): Promise<ProcessRef & { abandon(): Promise<void> }> {
  await s.runtimeFiles.makeVMDir(uid);
  const proc = s.processes.spawnDetached(s.spawnCommand.file, spawnArgs(s, uid, true, o), {
    logFile: s.layout.vm(uid).spawnLog,
    env: o.env !== undefined ? { ...s.config.env, ...o.env } : s.config.env,
  });
  return {
    ...proc,
    abandon: async () => {
      s.processes.signal(proc.pid, 'SIGTERM');
      // Only the supervisor's log is there when the VM was never stored.
      if (!(await s.client.vms.tryFind(uid))) await s.runtimeFiles.removeVMDir(uid);
    },
  };
}
