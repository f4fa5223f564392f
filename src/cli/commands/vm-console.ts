import { Command } from 'commander';
import type { CliContext } from '../context.js';

export function logsCommand(ctx: CliContext): Command {
  return new Command('logs')
    .description(
      "Print a VM's console output (everything the guest printed), or its supervisor's log with --spawn",
    )
    .argument('<vm>', 'name, ID, or a unique prefix of either')
    .option('--spawn', "print the supervisor's (ignite-spawn) log instead: JSON lines", false)
    .option('-f, --follow', 'keep printing what is written to the log, until interrupted', false)
    .action(async (vm: string, opts: { spawn: boolean; follow: boolean }, cmd: Command) => {
      const engine = await ctx.engine(cmd);
      if (!opts.follow) return engine.vmLogs(vm, ctx.io.stdout, { spawn: opts.spawn });
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      const offs = [ctx.io.signals.once('SIGINT', stop), ctx.io.signals.once('SIGTERM', stop)];
      try {
        await engine.vmLogs(vm, ctx.io.stdout, {
          spawn: opts.spawn,
          follow: true,
          signal: controller.signal,
        });
      } catch (err) {
        // Interrupted: following ends where the user stopped it.
        if (!controller.signal.aborted) throw err;
      } finally {
        for (const off of offs) off();
      }
    });
}

export function attachCommand(ctx: CliContext): Command {
  return new Command('attach')
    .description("Attach to a running VM's console; detach with Ctrl-P Ctrl-Q")
    .argument('<vm>', 'name, ID, or a unique prefix of either')
    .action(async (vm: string, _opts: unknown, cmd: Command) => {
      const found = await (await ctx.engine(cmd)).findVM(vm);
      ctx.out(`${found.metadata.uid}\n`);
      await ctx.attach(cmd, found.metadata.uid);
    });
}
