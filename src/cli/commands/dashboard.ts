import { Command } from 'commander';
import { invalidArgument } from '../../errors.js';
import {
  DEFAULT_DAEMON_HOST,
  forwardToDaemon,
  unixSocketOf,
} from '../../remote/dashboard-forward.js';
import type { CliContext } from '../context.js';

interface DashboardFlags {
  port: string;
  host?: string;
}

export function dashboardCommand(ctx: CliContext): Command {
  return new Command('dashboard')
    .description(
      "Open the daemon's web console on this host: forwards a loopback port to the daemon's unix socket and prints its URL (until interrupted)",
    )
    .option('--port <port>', 'port on 127.0.0.1 (default: any free port)', '0')
    .addHelpText(
      'after',
      `\nThe daemon is the global --host (env IGNITE_HOST; default ${DEFAULT_DAEMON_HOST}).`,
    )
    .action(async (flags: { port: string }, cmd: Command) => {
      // --host is the global option, wherever it is written on the command line.
      const global = cmd.optsWithGlobals<{ host?: string }>().host;
      const opts: DashboardFlags = { ...flags, ...(global !== undefined ? { host: global } : {}) };
      const port = Number(opts.port);
      if (!/^\d{1,5}$/.test(opts.port) || port > 65535)
        throw invalidArgument(`--port ${opts.port}: expected a port number (0 for any free one)`);
      const [flag, host] =
        opts.host !== undefined
          ? ['--host', opts.host]
          : ['IGNITE_HOST', ctx.io.env['IGNITE_HOST'] ?? DEFAULT_DAEMON_HOST];
      const fwd = await forwardToDaemon(unixSocketOf(host, flag), port);
      ctx.out(`${fwd.url}\n`);
      ctx.io.stderr.write(`Forwarding ${fwd.url} to ${host}; press Ctrl-C to stop.\n`);
      await ctx.untilSignal('SIGINT', 'SIGTERM');
      await fwd.close();
    });
}
