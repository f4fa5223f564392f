import { Command } from 'commander';
import { drainHost, listHosts, setSchedulable } from '../../operations/fleet-hosts.js';
import type { CliContext } from '../context.js';
import { parseDuration } from '../options.js';
import { formatData, formatObject, formatTable, parseOutput } from '../output/format.js';

/** `ignite host ls|inspect|drain|uncordon`: the hosts of a fleet (an etcd store). */
export function hostCommand(ctx: CliContext): Command {
  const host = new Command('host').description(
    'The hosts of a fleet (needs --store etcd://…): list, inspect, drain and uncordon them',
  );
  host
    .command('ls')
    .alias('list')
    .description(
      'List the hosts: readiness (from their leases), allocated/capacity CPUs and memory, VMs',
    )
    .option('-o, --output <format>', 'table, json or yaml', 'table')
    .action(async (opts: { output: string }, cmd: Command) => {
      const format = parseOutput(opts.output, ['table', 'json', 'yaml'], 'table');
      const fleet = await ctx.requireFleet(cmd, 'host ls');
      const rows = await listHosts({ client: ctx.services(cmd).client, fleet });
      if (format !== 'table' && format !== 'short') return ctx.out(formatData(rows, format));
      ctx.out(
        formatTable(
          ['NAME', 'STATUS', 'CPUS', 'MEMORY', 'VMS', 'ADDRESS', 'VERSION', 'LABELS'],
          rows.map((r) => [
            r.name,
            r.status,
            `${r.cpus.allocated}/${r.cpus.capacity}`,
            `${r.memory.allocated}/${r.memory.capacity}`,
            String(r.vms),
            r.address,
            r.version ?? '',
            Object.entries(r.labels)
              .map(([k, v]) => `${k}=${v}`)
              .join(','),
          ]),
        ),
      );
    });
  host
    .command('inspect')
    .description('Print a host object as stored (JSON by default)')
    .argument('<name>', 'the host name (its --host-name), or a unique prefix')
    .option('-o, --output <format>', 'json or yaml', 'json')
    .action(async (name: string, opts: { output: string }, cmd: Command) => {
      const format = parseOutput(opts.output, ['json', 'yaml'], 'json');
      await ctx.requireFleet(cmd, 'host inspect');
      const host = await ctx.services(cmd).client.hosts.find(name);
      ctx.out(formatObject(host, format === 'table' || format === 'short' ? 'json' : format));
    });
  host
    .command('drain')
    .description(
      'Mark a host unschedulable and move its replaceable (--reschedule) VMs to other hosts; the others stay',
    )
    .argument('<name>', 'the host name (its --host-name)')
    .option('--timeout <duration>', 'how long to wait for the replaceable VMs to move', '60s')
    .action(async (name: string, opts: { timeout: string }, cmd: Command) => {
      const fleet = await ctx.requireFleet(cmd, 'host drain');
      const s = ctx.services(cmd);
      const result = await drainHost({ client: s.client, fleet, clock: s.clock }, name, {
        timeoutMs: parseDuration(opts.timeout),
      });
      const lines = [
        `host "${name}": drained (unschedulable)`,
        ...result.moved.map((m) => `vm "${m.vm}": moved to ${m.to}`),
        ...result.stays.map((m) => `vm "${m.vm}": stays: ${m.reason}`),
      ];
      ctx.out(`${lines.join('\n')}\n`);
    });
  host
    .command('uncordon')
    .description('Mark a drained host schedulable again')
    .argument('<name>', 'the host name (its --host-name)')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await ctx.requireFleet(cmd, 'host uncordon');
      await setSchedulable({ client: ctx.services(cmd).client }, name, true);
      ctx.out(`host "${name}": schedulable\n`);
    });
  return host;
}
