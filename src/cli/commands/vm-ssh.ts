import { Command } from 'commander';
import { copyFiles, execInGuest, splitVMPath } from '../../operations/guest-ssh.js';
import { failedPrecondition } from '../../errors.js';
import type { CliContext } from '../context.js';
import { parseDuration } from '../options.js';

/**
 * The VM's UID for `cp`, which reaches the guest from this host with its key file. Through a
 * daemon on a unix socket (this host) the VM is looked up by the daemon; through one over TCP the
 * guest's network and key are on another host.
 */
async function guestVM(
  ctx: CliContext,
  cmd: Command,
  verb: string,
  query: string,
): Promise<string> {
  const daemon = await ctx.daemon(cmd);
  if (daemon === undefined) return query;
  if (daemon.connection.address.kind !== 'unix')
    throw failedPrecondition(
      `${verb}: reaching a VM over SSH needs the VM's host; the daemon at ${daemon.url} is reached over TCP`,
      { hint: `run "ignite ${verb}" on that host, or use "ignite attach" for the console` },
    );
  return (await (await ctx.engine(cmd)).findVM(query)).metadata.uid;
}

interface GuestCommand {
  command: string[];
  tty: boolean;
  timeoutSeconds: number;
  identity?: string;
}

/**
 * Runs a command in a VM's guest and returns its status. On this host (no daemon, or one on a
 * unix socket) ssh runs here with this terminal; through a daemon over TCP, or in a fleet, the
 * VM's own host runs it and relays the streams.
 */
async function runInGuest(
  ctx: CliContext,
  cmd: Command,
  vm: string,
  o: GuestCommand,
): Promise<number> {
  const daemon = await ctx.daemon(cmd);
  if (daemon?.connection.address.kind === 'unix') {
    const uid = (await (await ctx.engine(cmd)).findVM(vm)).metadata.uid;
    const r = await execInGuest(ctx.services(cmd), uid, { ...o, stdio: 'inherit' });
    return r.code;
  }
  return (await ctx.engine(cmd)).exec(vm, o, ctx.io);
}

export function execCommand(ctx: CliContext): Command {
  return new Command('exec')
    .description("Run a command in a running VM over SSH; exits with the command's status")
    .argument('<vm>', 'name, ID, or a unique prefix of either')
    .argument(
      '<command...>',
      'one argument: a shell command line ("ls /tmp | wc -l"); several (after --): the command and its arguments, passed as given',
    )
    .option('-i, --identity <file>', "private key to use instead of the VM's own")
    .option('-t, --tty', 'allocate a terminal', false)
    .option('--timeout <duration>', 'how long to wait for SSH in the VM to answer', '10s')
    .action(
      async (
        vm: string,
        command: string[],
        opts: { identity?: string; tty: boolean; timeout: string },
        cmd: Command,
      ) => {
        ctx.exitCode = await runInGuest(ctx, cmd, vm, {
          command,
          tty: opts.tty,
          timeoutSeconds: seconds(opts.timeout),
          ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
        });
      },
    );
}

export function sshCommand(ctx: CliContext): Command {
  return new Command('ssh')
    .description('Open an SSH session to a running VM, or run a command after --')
    .argument('<vm>', 'name, ID, or a unique prefix of either')
    .argument(
      '[command...]',
      'a command instead of a login shell: one argument is a shell command line, several are an argv',
    )
    .option('-i, --identity <file>', "private key to use instead of the VM's own")
    .option('--timeout <duration>', 'how long to wait for SSH in the VM to answer', '10s')
    .action(
      async (
        vm: string,
        command: string[],
        opts: { identity?: string; timeout: string },
        cmd: Command,
      ) => {
        ctx.exitCode = await runInGuest(ctx, cmd, vm, {
          command,
          tty: command.length === 0 && ctx.io.stdout.isTTY === true,
          timeoutSeconds: seconds(opts.timeout),
          ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
        });
      },
    );
}

export function cpCommand(ctx: CliContext): Command {
  return new Command('cp')
    .description(
      'Copy files or directories between the host and a running VM: ignite cp ./f web:/root/f, or ignite cp web:/etc .',
    )
    .argument('<source>', 'a host path, or <vm>:<path>')
    .argument('<destination>', 'a host path, or <vm>:<path>')
    .option('-i, --identity <file>', "private key to use instead of the VM's own")
    .option('--timeout <duration>', 'how long to wait for SSH in the VM to answer', '10s')
    .option('-r, --recursive', 'accepted and ignored: a directory is always copied whole')
    .action(
      async (
        src: string,
        dst: string,
        opts: { identity?: string; timeout: string },
        cmd: Command,
      ) => {
        const [from, to] = await Promise.all(
          [src, dst].map(async (arg) => {
            const v = splitVMPath(arg);
            return v ? `${await guestVM(ctx, cmd, 'cp', v.vm)}:${v.path}` : arg;
          }),
        );
        await copyFiles(ctx.services(cmd), from ?? src, to ?? dst, {
          timeoutSeconds: seconds(opts.timeout),
          ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
        });
      },
    );
}

function seconds(duration: string): number {
  return Math.max(1, Math.round(parseDuration(duration) / 1000));
}
