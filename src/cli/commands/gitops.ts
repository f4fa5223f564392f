import { Command, Option } from 'commander';
import { passFailure, runGitops } from '../../gitops/reconciler.js';
import { formatData, formatTable, parseOutput } from '../output/format.js';
import { DEFAULT_HOST_PORT_RANGE, resolveManifestTrust } from '../../operations/manifest-trust.js';
import type { CliContext } from '../context.js';
import { collect, parseDuration } from '../options.js';

interface GitopsFlags {
  branch: string;
  interval: string;
  path: string;
  once: boolean;
  startTimeout: string;
  metricsListen?: string;
  output: string;
  allowHostPath: string[];
  hostPortRange: string;
}

export function gitopsCommand(ctx: CliContext): Command {
  return new Command('gitops')
    .description(
      'Reconcile VMs from the manifests in a git repository: create, update and delete VMs to match each new commit (until interrupted)',
    )
    .argument(
      '<repo-url>',
      'the repository: any URL or path git can fetch (https://, ssh, file://, git://)',
    )
    .option('-b, --branch <branch>', 'the branch to follow', 'main')
    .option('--interval <duration>', 'how often to fetch the branch', '30s')
    .option('--path <dir>', 'read manifests only under this directory of the repository', '')
    .option(
      '--once',
      'reconcile the branch head once and exit (non-zero if anything failed)',
      false,
    )
    .addOption(
      new Option('--start-timeout <duration>', 'how long to wait for each VM to start').default(
        '120s',
      ),
    )
    .option(
      '--metrics-listen <host:port>',
      'also serve Prometheus metrics, gitops counters included',
    )
    .option(
      '--allow-host-path <dir>',
      'let manifests name host files (copyFiles, an ssh public key) under this directory, symlinks resolved (repeatable; default: none)',
      collect,
      [] as string[],
    )
    .option(
      '--host-port-range <low-high>',
      'the host ports manifests may map',
      DEFAULT_HOST_PORT_RANGE,
    )
    .option(
      '-o, --output <format>',
      'with --once: what was done, as table, json, yaml or a {{template}}',
      'table',
    )
    .action(async (url: string, f: GitopsFlags, cmd: Command) => {
      const format = parseOutput(f.output, ['table', 'json', 'yaml'], 'table');
      const deps = ctx.services(cmd);
      const trust = await resolveManifestTrust(deps, {
        allowHostPaths: f.allowHostPath,
        hostPortRange: f.hostPortRange,
      });
      const controller = new AbortController();
      const stop = (): void => controller.abort();
      const offs = [ctx.io.signals.once('SIGTERM', stop), ctx.io.signals.once('SIGINT', stop)];
      // prom-client (and node:http with it) loads only for the commands that serve metrics:
      // every other command, `ignite run` above all, starts faster without it.
      const { managerMetrics, serveAllMetrics } = await import('../../operations/metrics.js');
      const manager = managerMetrics(deps);
      const server =
        f.metricsListen !== undefined
          ? await serveAllMetrics(deps, f.metricsListen, manager)
          : undefined;
      if (server) ctx.io.stderr.write(`serving metrics on ${server.url}\n`);
      try {
        // With --host or IGNITE_HOST the VMs are created, started, stopped and removed by the
        // daemon; the repository, its cache and the trust checks stay here.
        const result = await runGitops(
          { ...deps, engine: await ctx.engine(cmd) },
          {
            url,
            branch: f.branch,
            path: f.path,
            intervalMs: parseDuration(f.interval),
            once: f.once,
            signal: controller.signal,
            metrics: manager.gitops,
            startTimeoutMs: parseDuration(f.startTimeout),
            trust,
          },
        );
        if (f.once && result) {
          ctx.out(
            format === 'table' || format === 'short'
              ? formatTable(
                  ['KIND', 'NAME', 'ACTION', 'DETAIL'],
                  result.decisions.map((d) => [d.kind ?? 'vm', d.vm, d.action, d.detail ?? '']),
                )
              : formatData(result, format),
          );
          const failure = passFailure(result);
          if (failure) throw failure;
        }
      } finally {
        for (const off of offs) off();
        await server?.close();
      }
    });
}
