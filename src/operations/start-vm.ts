import { readFile, rm } from 'node:fs/promises';
import { access } from 'node:fs/promises';
import type { VM } from '../api/index.js';
import { failedPrecondition, unavailable } from '../errors.js';
import { isProcessAlive, signalProcess, sleep, spawnDetached } from '../system/process.js';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { OperationDeps } from './deps.js';
import { requireRootForNetwork, vmLabel, vmPaths } from './vm-paths.js';
import { isVMRunning, refreshVMState } from './vm-state.js';

export interface StartVMOptions {
  /** A supervisor already started with prestartSupervisor for this VM. */
  prestarted?: { pid: number };
  /** How long to wait for the supervisor to report the VM running. */
  timeoutMs?: number;
}

/**
 * Starts a created or stopped VM: launches its ignite-spawn supervisor, detached, and waits until
 * the supervisor reports it Running (or dies, whose last log line then becomes the error).
 * Starting a running VM is a no-op, as `docker start` is.
 */
export async function startVM(
  deps: OperationDeps,
  query: string,
  options: StartVMOptions = {},
): Promise<VM> {
  let vm = await deps.client.vms.find(query);
  vm = await refreshVMState(deps, vm);
  if (isVMRunning(vm)) {
    deps.logger.info({ vm: vm.metadata.name }, `${vmLabel(vm)}: already running`);
    return vm;
  }
  const uid = vm.metadata.uid ?? '';
  const paths = vmPaths(deps, vm);
  try {
    await access(paths.rootDiskQcow2).catch(() => access(paths.rootDiskRaw));
  } catch {
    throw failedPrecondition(`${vmLabel(vm)}: its root disk is missing`, {
      hint: 'remove the VM and create it again',
    });
  }
  requireRootForNetwork(vm, process.getuid?.() === 0);
  let pid: number;
  if (options.prestarted !== undefined && isProcessAlive(options.prestarted.pid, uid)) {
    // A supervisor started ahead (by `run`, while the VM was being created) waits for this.
    pid = options.prestarted.pid;
    // Before its handler is installed SIGUSR2 would kill it: wait until it catches the signal.
    const deadline = Date.now() + 10_000;
    while (!(await catchesSignal(pid, 12)) && Date.now() < deadline) await sleep(5);
    signalProcess(pid, 'SIGUSR2');
  } else {
    pid = spawnDetached(deps.spawnCommand.file, spawnArgs(deps, uid, false), {
      logFile: paths.spawnLog,
      env: deps.env,
    });
  }
  deps.logger.debug({ vm: vm.metadata.name, uid, spawnPid: pid }, 'started ignite-spawn');

  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  while (Date.now() < deadline) {
    const cur = await deps.client.vms.get(uid);
    if (cur.status?.state === 'Running' && cur.status.runtime?.spawnPid === pid) return cur;
    if (!isProcessAlive(pid, uid)) {
      throw unavailable(`${vmLabel(vm)}: failed to start: ${await lastError(paths.spawnLog)}`, {
        hint: `see ignite logs --spawn ${vm.metadata.name ?? uid}`,
      });
    }
    await sleep(100);
  }
  throw unavailable(
    `${vmLabel(vm)}: did not report running within ${Math.round((options.timeoutMs ?? 120_000) / 1000)} s`,
  );
}

/** The message of the last error line the supervisor logged (pino JSON lines), or its last line. */
export async function lastError(logFile: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(logFile, 'utf8');
  } catch {
    return 'the supervisor exited without a log';
  }
  const lines = text.trim().split('\n').slice(-50);
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

function spawnArgs(deps: OperationDeps, uid: string, wait: boolean): string[] {
  const level = deps.logLevel === 'silent' ? 'info' : deps.logLevel;
  return [
    ...deps.spawnCommand.args,
    uid,
    '--data-dir',
    deps.dataDir,
    '--log-level',
    level,
    ...(wait ? ['--wait-signal'] : []),
  ];
}

/**
 * Starts a VM's supervisor before the VM exists, to wait (for SIGUSR2) until `startVM` hands it
 * the finished VM: its start-up then overlaps the VM's creation, which shortens `run`. If the
 * creation fails, `abandon()` ends it and removes what it wrote.
 */
export async function prestartSupervisor(
  deps: OperationDeps,
  uid: string,
): Promise<{ pid: number; abandon(): Promise<void> }> {
  const dir = join(deps.dataDir, 'vm', uid);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pid = spawnDetached(deps.spawnCommand.file, spawnArgs(deps, uid, true), {
    logFile: join(dir, 'spawn.log'),
    env: deps.env,
  });
  return {
    pid,
    abandon: async () => {
      signalProcess(pid, 'SIGTERM');
      // Only the supervisor's log is there when the VM was never stored.
      if (!(await deps.client.vms.tryFind(uid))) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether process `pid` has a handler for signal number `sig` (its SigCgt mask in /proc). */
async function catchesSignal(pid: number, sig: number): Promise<boolean> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status);
  return m?.[1] !== undefined && (BigInt(`0x${m[1]}`) & (1n << BigInt(sig - 1))) !== 0n;
}
