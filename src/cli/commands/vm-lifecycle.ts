import { Command, Option } from 'commander';
import { invalidArgument, toAppError, type AppError } from '../../errors.js';
import type { CliContext } from '../context.js';
import { parseDuration } from '../options.js';

const timeoutOption = () =>
  new Option(
    '--timeout <duration>',
    'how long the guest gets to power off before it is killed',
  ).default('30s');

/** Runs `fn` for each VM argument; reports every failure, fails if any failed. */
async function forEachVM(
  ctx: CliContext,
  vms: string[],
  fn: (vm: string) => Promise<string>,
): Promise<void> {
  // The first failure is thrown (and printed by the CLI) at the end; later ones are printed here.
  let firstError: AppError | undefined;
  for (const vm of vms) {
    try {
      const id = await fn(vm);
      ctx.out(`${id}\n`);
    } catch (err) {
      const e = toAppError(err);
      if (firstError === undefined) firstError = e;
      else ctx.io.stderr.write(`Error: ${e.message}\n`);
    }
  }
  if (firstError !== undefined) throw firstError;
}

export function startCommand(ctx: CliContext): Command {
  return new Command('start')
    .description('Start a VM')
    .argument('<vm>', 'name, ID, or a unique prefix of either')
    .option('-i, --interactive', 'attach to the VM console after starting', false)
    .option('-d, --debug', "keep the supervisor's log verbose (debug level)", false)
    .addOption(
      new Option('--start-timeout <duration>', 'how long to wait for the VM to start').default(
        '120s',
      ),
    )
    .action(
      async (
        vm: string,
        opts: { interactive: boolean; debug: boolean; startTimeout: string },
        cmd: Command,
      ) => {
        const engine = await ctx.engine(cmd);
        const started = await engine.startVM(vm, {
          timeoutMs: parseDuration(opts.startTimeout),
          ...(opts.debug ? { logLevel: 'debug' as const } : {}),
        });
        ctx.out(`${started.metadata.uid}\n`);
        if (opts.interactive) await ctx.attach(cmd, started.metadata.uid);
      },
    );
}

export function stopCommand(ctx: CliContext): Command {
  return new Command('stop')
    .description('Stop running VMs: the guest is asked to power off, then killed after --timeout')
    .argument('<vm...>', 'names, IDs, or unique prefixes')
    .option('-f, --force-kill', 'kill the VM at once instead of asking it to power off', false)
    .option(
      '--save',
      "save the guest's memory and devices first: the next start resumes it where it was, with its address (a stop without --save discards a saved state)",
      false,
    )
    .addOption(timeoutOption())
    .action(
      async (
        vms: string[],
        opts: { forceKill: boolean; timeout: string; save: boolean },
        cmd: Command,
      ) => {
        if (opts.save && opts.forceKill)
          throw invalidArgument('--save and --force-kill: choose one', {
            hint: '--save ends the VM once its state is saved',
          });
        const engine = await ctx.engine(cmd);
        await forEachVM(ctx, vms, async (q) => {
          const vm = await engine.stopVM(q, {
            kill: opts.forceKill,
            save: opts.save,
            timeoutMs: parseDuration(opts.timeout),
          });
          return vm.metadata.uid;
        });
      },
    );
}

export function killCommand(ctx: CliContext): Command {
  return new Command('kill')
    .description('Kill running VMs at once')
    .argument('<vm...>', 'names, IDs, or unique prefixes')
    .action(async (vms: string[], _opts: unknown, cmd: Command) => {
      const engine = await ctx.engine(cmd);
      await forEachVM(ctx, vms, async (q) => {
        const vm = await engine.stopVM(q, { kill: true });
        return vm.metadata.uid;
      });
    });
}

export function rmCommand(ctx: CliContext): Command {
  return new Command('rm')
    .description('Remove VMs and everything of them (disk, keys, logs, network)')
    .argument('<vm...>', 'names, IDs, or unique prefixes')
    .option('-f, --force', 'stop running VMs first', false)
    .action(async (vms: string[], opts: { force: boolean }, cmd: Command) => {
      const engine = await ctx.engine(cmd);
      await forEachVM(ctx, vms, (q) => engine.removeVM(q, { force: opts.force }));
    });
}
