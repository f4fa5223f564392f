import { unavailable } from '../errors.js';
import type { Services } from './services.js';
import { vmLabel } from './vm-paths.js';
import { isVMRunning } from './vm-state.js';

export type WaitForSSHServices = Pick<
  Services,
  'client' | 'clock' | 'processes' | 'runtimeFiles' | 'ssh'
>;

export interface WaitForSSHOptions {
  /** How long the guest gets to answer on port 22. */
  timeoutMs: number;
  /** Checked between attempts; the default polls every quarter second. */
  intervalMs?: number;
  /** The port SSH answers on: 22, or the host port forwarded to it in user mode. */
  port?: number;
}

/**
 * Waits until the SSH server of a running VM answers, as Ignite's `run --ssh` and `exec` did: a
 * guest that is still booting gets up to `timeoutMs`. Fails at once if the VM stops meanwhile,
 * and after the timeout otherwise; either error ends with the console's last lines, which show
 * how far the guest got.
 */
export async function waitForSSH(
  s: WaitForSSHServices,
  uid: string,
  ip: string,
  options: WaitForSSHOptions,
): Promise<void> {
  const now = () => s.clock.now().getTime();
  const deadline = now() + options.timeoutMs;
  const port = options.port ?? 22;
  for (;;) {
    const left = Math.max(500, deadline - now());
    if (await s.ssh.answers(ip, port, { connectMs: Math.min(2000, left), bannerMs: left })) return;
    const vm = await s.client.vms.get(uid);
    if (!isVMRunning(s, vm)) {
      throw unavailable(`${vmLabel(vm)}: stopped before SSH answered${await consoleTail(s, uid)}`);
    }
    if (now() >= deadline) {
      throw unavailable(
        `${vmLabel(vm)}: SSH did not answer at ${ip}:${port} within ${Math.round(options.timeoutMs / 1000)} s${await consoleTail(s, uid)}`,
        {
          hint: `the VM keeps running: give it longer with --timeout, see ignite logs ${vm.metadata.name ?? uid}, or remove it with ignite rm -f`,
        },
      );
    }
    await s.clock.sleep(Math.min(options.intervalMs ?? 250, Math.max(0, deadline - now())));
  }
}

/** The console's last lines, indented, for an error message; empty when there is no console log. */
async function consoleTail(s: Pick<Services, 'runtimeFiles'>, uid: string): Promise<string> {
  const text = await s.runtimeFiles.readConsoleTail(uid, 8192);
  if (text === undefined) return '';
  // Terminal control sequences and carriage returns would garble the message.
  /* eslint-disable no-control-regex */
  const lines = text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .split(/\r?\n/)
    .map((l) => l.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').trimEnd())
    .filter((l) => l !== '')
    .slice(-10);
  /* eslint-enable no-control-regex */
  if (lines.length === 0) return '';
  return `; the console's last lines:\n${lines.map((l) => `    ${l}`).join('\n')}`;
}
