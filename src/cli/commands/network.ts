import { Command } from 'commander';
import { compareText, toPlain } from '../../api/index.js';
import {
  createNetwork,
  DEFAULT_NETWORK_NAME,
  inspectNetwork,
  removeNetwork,
  vmsOn,
} from '../../operations/networks.js';
import type { CliContext } from '../context.js';
import { formatData, formatTable, parseOutput } from '../output/format.js';
import { listOutput, listSubcommand, type ListOptions } from '../output/list-output.js';

/** `ignite network`: create, list, inspect and remove named networks. */
export function networkCommand(ctx: CliContext): Command {
  const group = new Command('network')
    .aliases(['networks', 'net'])
    .description('Manage named networks: bridges of their own that VMs join with --network');
  group.addCommand(
    new Command('create')
      .description('Create a network: a bridge with its own subnet, NAT and CNI configuration')
      .argument('<name>', "the network's name")
      .requiredOption('--subnet <cidr>', 'the IPv4 subnet, such as 10.70.0.0/24')
      .option('--gateway <ip>', "the bridge's address (default the subnet's first)")
      .option('--no-nat', 'do not masquerade what leaves the subnet')
      .option('--isolated', 'VMs reach only the gateway, not each other', false)
      .action(
        async (
          name: string,
          opts: { subnet: string; gateway?: string; nat: boolean; isolated: boolean },
          cmd: Command,
        ) => {
          const net = await createNetwork(await ctx.localServices(cmd, 'networks'), {
            name,
            subnet: opts.subnet,
            ...(opts.gateway !== undefined ? { gateway: opts.gateway } : {}),
            nat: opts.nat,
            isolated: opts.isolated,
          });
          ctx.out(`${net.metadata.uid}\n`);
        },
      ),
  );
  group.addCommand(
    listSubcommand('List networks, the default one included in the table', (opts, cmd) =>
      listNetworks(ctx, cmd, opts),
    ),
  );
  group.addCommand(
    new Command('inspect')
      .description('Print a network and the VMs on it with their addresses (JSON by default)')
      .argument('<network>', 'name, ID, or a unique prefix of either')
      .option('-o, --output <format>', 'json or yaml', 'json')
      .action(async (query: string, opts: { output: string }, cmd: Command) => {
        const format = parseOutput(opts.output, ['json', 'yaml'], 'json');
        const view = await inspectNetwork(await ctx.localServices(cmd, 'networks'), query);
        const doc = { ...toPlain(view.network), vms: view.vms };
        ctx.out(formatData(doc, format === 'yaml' ? 'yaml' : 'json'));
      }),
  );
  group.addCommand(
    new Command('rm')
      .description('Remove networks: bridge, rules and CNI file; refused while a VM uses one')
      .argument('<network...>', 'names, IDs, or unique prefixes')
      .action(async (queries: string[], _opts: unknown, cmd: Command) => {
        const deps = await ctx.localServices(cmd, 'networks');
        for (const q of queries) ctx.out(`${await removeNetwork(deps, q)}\n`);
      }),
  );
  group.action((_o: unknown, cmd: Command) => listNetworks(ctx, cmd, { output: 'table' }));
  return group;
}

async function listNetworks(ctx: CliContext, cmd: Command, opts: ListOptions): Promise<void> {
  const deps = await ctx.localServices(cmd, 'networks');
  const nets = await deps.client.networks.list();
  nets.sort((a, b) => compareText(a.metadata.name, b.metadata.name));
  const table = async () => {
    const vms = await deps.client.vms.list();
    const rows = [
      [DEFAULT_NETWORK_NAME, '10.61.0.0/16', '10.61.0.1', 'ignite0', 'true', 'false', ''],
      ...nets.map((n) => [
        n.metadata.name,
        n.spec.subnet,
        n.spec.gateway ?? '',
        n.status.bridge ?? '',
        String(n.spec.nat ?? true),
        String(n.spec.isolated ?? false),
        String(vmsOn(vms, n.metadata.name).length),
      ]),
    ];
    return formatTable(['NAME', 'SUBNET', 'GATEWAY', 'BRIDGE', 'NAT', 'ISOLATED', 'VMS'], rows);
  };
  ctx.out(await listOutput(nets, { quiet: ctx.globals(cmd).quiet, output: opts.output }, table));
}
