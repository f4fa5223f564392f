import type { StoredVM } from '../api/index.js';
import { failedPrecondition, invalidArgument, unavailable } from '../errors.js';
import type { SSHStreams } from '../system/ssh-client.js';
import type { Services } from './services.js';
import { vmLabel, vmPaths } from './vm-paths.js';
import { isVMRunning } from './vm-state.js';
import { waitForSSH, type WaitForSSHServices } from './wait-for-ssh.js';

export type GuestSSHServices = WaitForSSHServices & Pick<Services, 'layout' | 'hostFiles'>;

export interface GuestTarget {
  vm: StoredVM;
  /** Where the guest's SSH server is reached: its address, or 127.0.0.1 in user mode. */
  ip: string;
  /** 22, or the host port forwarded to it in user mode. */
  port: number;
  identity: string;
}

/** Finds a running VM's address and its SSH key; errors say what is missing. */
export async function guestTarget(
  s: GuestSSHServices,
  query: string,
  identity?: string,
): Promise<GuestTarget> {
  const vm = await s.client.vms.find(query);
  const key = identity ?? vmPaths(s, vm).sshKey;
  // In a fleet, the VM's key and supervisor are on the host it is placed on.
  const host = vm.status.host;
  if (host !== undefined && identity === undefined && !(await s.hostFiles.exists(key)))
    throw failedPrecondition(`${vmLabel(vm)}: runs on host "${host}", which keeps its SSH key`, {
      hint: `run the command on host "${host}" (ignite host inspect ${host} shows where it is), or use "ignite attach" from here`,
    });
  if (!isVMRunning(s, vm)) throw failedPrecondition(`${vmLabel(vm)}: is not running`);
  // In user mode the guest's address is not reachable from the host: its SSH is forwarded.
  const sshPort = vm.status?.network?.sshPort;
  const ip = sshPort !== undefined ? '127.0.0.1' : vm.status?.ipAddresses?.[0];
  if (ip === undefined)
    throw failedPrecondition(`${vmLabel(vm)}: has no IP address`, {
      hint: 'the VM has no network (--net none) or has not got its address yet',
    });
  if (!(await s.hostFiles.exists(key))) {
    throw failedPrecondition(`${vmLabel(vm)}: no SSH key at ${key}`, {
      hint: 'create the VM with --ssh, or pass -i <private key>',
    });
  }
  return { vm, ip, port: sshPort ?? 22, identity: key };
}

/** Options every ssh/scp call gets: the VM's own key, no host-key prompts, no stored host keys. */
export function sshOptions(identity: string, timeoutSeconds: number): string[] {
  return [
    '-i',
    identity,
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `ConnectTimeout=${timeoutSeconds}`,
  ];
}

export interface ExecOptions {
  /**
   * One word is a command line for the guest's shell (`"find /tmp -name x"`), as `ssh host "cmd"`
   * takes it; several are an argv, each word reaching the guest as given.
   */
  command: readonly string[];
  tty?: boolean;
  identity?: string;
  /** How long to wait for the guest's SSH server, which a booting VM has not started yet. */
  timeoutSeconds?: number;
  stdio: 'inherit' | 'pipe' | SSHStreams;
  /** Ends the command (its client went away). */
  signal?: AbortSignal;
}

/**
 * Finds the VM and waits up to `timeoutSeconds` for its SSH server; returns the target and the
 * seconds left, which become ssh's own connect timeout.
 */
async function reachGuest(
  s: GuestSSHServices,
  query: string,
  identity: string | undefined,
  timeoutSeconds: number,
): Promise<GuestTarget & { secondsLeft: number }> {
  const started = s.clock.now().getTime();
  const t = await guestTarget(s, query, identity);
  await waitForSSH(s, t.vm.metadata.uid, t.ip, {
    timeoutMs: timeoutSeconds * 1000,
    port: t.port,
  });
  const left = timeoutSeconds - Math.floor((s.clock.now().getTime() - started) / 1000);
  return { ...t, secondsLeft: Math.max(1, left) };
}

/**
 * Runs a command in the guest over SSH (or a login shell with no command) and returns the
 * guest's exit status, which the CLI passes through. ssh's own failures (exit 255) become errors.
 */
export async function execInGuest(
  s: GuestSSHServices,
  query: string,
  options: ExecOptions,
): Promise<{ code: number; stdout: string; stderr: string }> {
  for (const arg of options.command) {
    if (arg.includes('\0')) throw invalidArgument('command: NUL bytes cannot be passed');
  }
  const t = await reachGuest(s, query, options.identity, options.timeoutSeconds ?? 10);
  const args = [
    ...sshOptions(t.identity, t.secondsLeft),
    // Through streams ssh's stdin is no terminal, so a terminal is forced when one is asked for.
    ...(options.tty ? [typeof options.stdio === 'object' ? '-tt' : '-t'] : ['-T']),
    ...(t.port !== 22 ? ['-p', String(t.port)] : []),
    `root@${t.ip}`,
  ];
  if (options.command.length > 0) args.push('--', ...remoteCommand(options.command));
  const r = await s.ssh.ssh(
    args,
    options.stdio,
    options.signal !== undefined ? { signal: options.signal } : {},
  );
  if (r.code === 255) {
    throw unavailable(
      `${vmLabel(t.vm)}: ssh to ${t.ip}${t.port !== 22 ? `:${t.port}` : ''} failed${r.stderr ? `: ${r.stderr.trim().split('\n').pop() ?? ''}` : ''}`,
    );
  }
  return r;
}

/**
 * What ssh gets after the host: ssh joins its arguments into one string for the remote shell, so
 * one word passes as the command line it is, and several are quoted word by word so the guest
 * sees exactly the argv given. No words: a login shell.
 */
export function remoteCommand(command: readonly string[]): string[] {
  if (command.length === 1) return [command[0] ?? ''];
  return command.map(shellQuote);
}

/** POSIX single-quoting: the remote shell sees the word as it is. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_./:=@%+-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export interface CopyOptions {
  identity?: string;
  /** How long to wait for the guest's SSH server. */
  timeoutSeconds?: number;
}

/**
 * Copies files or directories between the host and a VM with scp: `src` or `dst` is
 * `<vm>:<path>`, the other a host path. A directory is copied whole, with what is in it, as
 * Ignite's `cp` did without a flag. Returns the VM's UID.
 */
export async function copyFiles(
  s: GuestSSHServices,
  src: string,
  dst: string,
  options: CopyOptions = {},
): Promise<string> {
  const from = splitVMPath(src);
  const to = splitVMPath(dst);
  if ((from === undefined) === (to === undefined)) {
    throw invalidArgument(`cp ${src} ${dst}: exactly one side must be <vm>:<path>`);
  }
  const remote = (from ?? to) as { vm: string; path: string };
  const t = await reachGuest(s, remote.vm, options.identity, options.timeoutSeconds ?? 10);
  const remoteArg = `root@${t.ip}:${remote.path}`;
  const args = [
    ...sshOptions(t.identity, t.secondsLeft),
    // -r copies a file as it is, and a directory with its contents.
    '-r',
    ...(t.port !== 22 ? ['-P', String(t.port)] : []),
    from ? remoteArg : src,
    to ? remoteArg : dst,
  ];
  const r = await s.ssh.scp(args);
  if (r.code !== 0)
    throw unavailable(`${vmLabel(t.vm)}: copy failed: ${r.stderr.trim() || `scp exit ${r.code}`}`);
  return t.vm.metadata.uid;
}

/** `<vm>:<path>` split, or undefined for a host path. */
export function splitVMPath(arg: string): { vm: string; path: string } | undefined {
  const i = arg.indexOf(':');
  if (i <= 0 || arg.startsWith('/') || arg.startsWith('.')) return undefined;
  return { vm: arg.slice(0, i), path: arg.slice(i + 1) };
}
