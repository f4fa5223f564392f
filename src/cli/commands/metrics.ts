import { Command } from 'commander';
import type { CliContext } from '../context.js';

export function metricsCommand(ctx: CliContext): Command {
  const metrics = new Command('metrics')
    .description(
      "Print a running VM's Prometheus metrics (as its supervisor serves them on prometheus.sock in <dataDir>/vm/<uid>/, or in <runtimeDir>/<uid>/ without root)",
    )
    .argument('<vm>', 'name, ID, or a unique prefix of either')
    .action(async (vm: string, _o: unknown, cmd: Command) => {
      ctx.out(await (await ctx.engine(cmd)).vmMetrics(vm));
    });
  metrics
    .command('serve')
    .description(
      "Serve every running VM's metrics and ignite's own over HTTP, for Prometheus to scrape (until interrupted)",
    )
    .option('--listen <host:port>', 'address to listen on', '127.0.0.1:9090')
    .action(async (opts: { listen: string }, cmd: Command) => {
      const deps = ctx.services(cmd);
      const { serveAllMetrics } = await import('../../operations/metrics.js');
      const server = await serveAllMetrics(deps, opts.listen);
      ctx.io.stderr.write(`serving metrics on ${server.url}\n`);
      await ctx.untilSignal('SIGINT', 'SIGTERM');
      await server.close();
    });
  return metrics;
}
