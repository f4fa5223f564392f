import { Command } from 'commander';
import { copyFiles, execInGuest } from '../../operations/guest-ssh.js';
import type { CliContext } from '../context.js';
import { parseDuration } from './vm-lifecycle.js';

export function execCommand(ctx: CliContext): Command {
  return new Command('exec')
    .description("Run a command in a running VM over SSH; exits with the command's status")
    .argument('<vm>', 'name, ID, or a unique prefix of either')
    .argument('<command...>', 'the command and its arguments (put -- before them)')
    .option('-i, --identity <file>', "private key to use instead of the VM's own")
    .option('-t, --tty', 'allocate a terminal', false)
    .option('--timeout <duration>', 'how long to wait for the SSH connection', '10s')
    .action(
      async (
        vm: string,
        command: string[],
        opts: { identity?: string; tty: boolean; timeout: string },
        cmd: Command,
      ) => {
        const r = await execInGuest(ctx.runtime(cmd), vm, {
          command,
          tty: opts.tty,
          timeoutSeconds: Math.max(1, Math.round(parseDuration(opts.timeout) / 1000)),
          stdio: 'inherit',
          ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
        });
        ctx.exitCode = r.code;
      },
    );
}

export function sshCommand(ctx: CliContext): Command {
  return new Command('ssh')
    .description('Open an SSH session to a running VM, or run a command after --')
    .argument('<vm>', 'name, ID, or a unique prefix of either')
    .argument('[command...]', 'a command to run instead of a login shell')
    .option('-i, --identity <file>', "private key to use instead of the VM's own")
    .option('--timeout <duration>', 'how long to wait for the SSH connection', '10s')
    .action(
      async (
        vm: string,
        command: string[],
        opts: { identity?: string; timeout: string },
        cmd: Command,
      ) => {
        const r = await execInGuest(ctx.runtime(cmd), vm, {
          command,
          tty: command.length === 0 && ctx.io.stdout.isTTY === true,
          timeoutSeconds: Math.max(1, Math.round(parseDuration(opts.timeout) / 1000)),
          stdio: 'inherit',
          ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
        });
        ctx.exitCode = r.code;
      },
    );
}

export function cpCommand(ctx: CliContext): Command {
  return new Command('cp')
    .description(
      'Copy files between the host and a running VM: ignite cp ./f web:/root/f, or ignite cp web:/etc/hosts .',
    )
    .argument('<source>', 'a host path, or <vm>:<path>')
    .argument('<destination>', 'a host path, or <vm>:<path>')
    .option('-i, --identity <file>', "private key to use instead of the VM's own")
    .option('-r, --recursive', 'copy directories', false)
    .action(
      async (
        src: string,
        dst: string,
        opts: { identity?: string; recursive: boolean },
        cmd: Command,
      ) => {
        await copyFiles(ctx.runtime(cmd), src, dst, {
          recursive: opts.recursive,
          ...(opts.identity !== undefined ? { identity: opts.identity } : {}),
        });
      },
    );
}
