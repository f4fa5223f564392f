import { readFile } from 'node:fs/promises';
import { access } from 'node:fs/promises';
import type { VM } from '../api/index.js';
import { failedPrecondition, unavailable } from '../errors.js';
import { isProcessAlive, sleep, spawnDetached } from '../system/process.js';
import type { OperationDeps } from './deps.js';
import { vmLabel, vmPaths } from './vm-paths.js';
import { isVMRunning, refreshVMState } from './vm-state.js';

export interface StartVMOptions {
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
  const args = [
    ...deps.spawnCommand.args,
    uid,
    '--data-dir',
    deps.dataDir,
    '--log-level',
    deps.logLevel === 'silent' ? 'info' : deps.logLevel,
  ];
  const pid = spawnDetached(deps.spawnCommand.file, args, {
    logFile: paths.spawnLog,
    env: deps.env,
  });
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
