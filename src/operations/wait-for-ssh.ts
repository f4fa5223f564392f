import { readFile } from 'node:fs/promises';
import { unavailable } from '../errors.js';
import { sleep } from '../system/process.js';
import { sshAnswers } from '../system/tcp-probe.js';
import type { OperationDeps } from './deps.js';
import { vmLabel, vmPaths } from './vm-paths.js';
import { isVMRunning } from './vm-state.js';

export interface WaitForSSHOptions {
  /** How long the guest gets to answer on port 22. */
  timeoutMs: number;
  /** Checked between attempts; the default polls every quarter second. */
  intervalMs?: number;
}

/**
 * Waits until the SSH server of a running VM answers, as Ignite's `run --ssh` and `exec` did: a
 * guest that is still booting gets up to `timeoutMs`. Fails at once if the VM stops meanwhile,
 * and after the timeout otherwise; either error ends with the console's last lines, which show
 * how far the guest got.
 */
export async function waitForSSH(
  deps: Pick<OperationDeps, 'client'>,
  uid: string,
  ip: string,
  options: WaitForSSHOptions,
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const left = Math.max(500, deadline - Date.now());
    if (await sshAnswers(ip, 22, { connectMs: Math.min(2000, left), bannerMs: left })) return;
    const vm = await deps.client.vms.get(uid);
    if (!isVMRunning(vm)) {
      throw unavailable(
        `${vmLabel(vm)}: stopped before SSH answered${await consoleTail(deps, uid)}`,
      );
    }
    if (Date.now() >= deadline) {
      throw unavailable(
        `${vmLabel(vm)}: SSH did not answer at ${ip}:22 within ${Math.round(options.timeoutMs / 1000)} s${await consoleTail(deps, uid)}`,
        {
          hint: `the VM keeps running: give it longer with --timeout, see ignite logs ${vm.metadata.name ?? uid}, or remove it with ignite rm -f`,
        },
      );
    }
    await sleep(Math.min(options.intervalMs ?? 250, Math.max(0, deadline - Date.now())));
  }
}

/** The console's last lines, indented, for an error message; empty when there is no console log. */
async function consoleTail(deps: Pick<OperationDeps, 'client'>, uid: string): Promise<string> {
  const vm = await deps.client.vms.get(uid);
  let text: string;
  try {
    text = await readFile(vmPaths(deps, vm).consoleLog, 'utf8');
  } catch {
    return '';
  }
  // Terminal control sequences and carriage returns would garble the message.
  /* eslint-disable no-control-regex */
  const lines = text
    .slice(-8192)
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .split(/\r?\n/)
    .map((l) => l.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').trimEnd())
    .filter((l) => l !== '')
    .slice(-10);
  /* eslint-enable no-control-regex */
  if (lines.length === 0) return '';
  return `; the console's last lines:\n${lines.map((l) => `    ${l}`).join('\n')}`;
}
