import { Command } from 'commander';
import { compareText, Size, VolumeFormatSchema } from '../../api/index.js';
import { invalidArgument } from '../../errors.js';
import { createVolume, removeVolume, volumeUsers } from '../../operations/volumes.js';
import type { CliContext } from '../context.js';
import { localInspectCommand } from './inspect.js';
import { ago, formatTable } from '../output/format.js';
import { listOutput, listSubcommand, type ListOptions } from '../output/list-output.js';

/** `ignite volume`: create, list, inspect and remove named volumes. */
export function volumeCommand(ctx: CliContext): Command {
  const group = new Command('volume')
    .aliases(['volumes'])
    .description('Manage named volumes: disks kept apart from VMs (bare "volume" lists them)');
  group.addCommand(
    new Command('create')
      .description('Create a named volume: a sparse file, formatted ext4 unless --format raw')
      .argument('<name>', "the volume's name")
      .requiredOption('--size <size>', 'its size, such as 10GB')
      .option('--format <format>', 'ext4 or raw', 'ext4')
      .addHelpText(
        'after',
        '\nExamples:\n  ignite volume create data --size 1GB\n  ignite run IMAGE -v data:/data',
      )
      .action(async (name: string, opts: { size: string; format: string }, cmd: Command) => {
        const format = VolumeFormatSchema.safeParse(opts.format);
        if (!format.success) throw invalidArgument(`--format ${opts.format}: expected ext4 or raw`);
        let size: Size;
        try {
          size = Size.parse(opts.size);
        } catch (err) {
          throw invalidArgument(`--size ${opts.size}: ${(err as Error).message}`);
        }
        const vol = await createVolume(await ctx.localServices(cmd, 'volumes'), {
          name,
          size,
          format: format.data,
        });
        ctx.out(`${vol.metadata.uid}\n`);
      }),
  );
  group.addCommand(
    listSubcommand('List named volumes and the VMs that use them', (opts, cmd) =>
      listVolumes(ctx, cmd, opts),
    ),
  );
  group.addCommand(localInspectCommand(ctx, 'Volume'));
  group.addCommand(
    new Command('rm')
      .description('Remove volumes and their files; refuses one a VM uses, unless -f')
      .argument('<volume...>', 'names, IDs, or unique prefixes')
      .option('-f, --force', 'remove it even so: the VMs that name it can no longer start', false)
      .action(async (queries: string[], opts: { force: boolean }, cmd: Command) => {
        const deps = await ctx.localServices(cmd, 'volumes');
        for (const q of queries) ctx.out(`${await removeVolume(deps, q, { force: opts.force })}\n`);
      }),
  );
  group.action((_o: unknown, cmd: Command) => listVolumes(ctx, cmd, { output: 'table' }));
  return group;
}

async function listVolumes(ctx: CliContext, cmd: Command, opts: ListOptions): Promise<void> {
  const deps = await ctx.localServices(cmd, 'volumes');
  const objs = await deps.client.volumes.list();
  objs.sort((a, b) => compareText(a.metadata.name, b.metadata.name));
  const table = async () => {
    const vms = await deps.client.vms.list();
    const now = deps.clock.now();
    const rows = objs.map((o) => [
      o.metadata.uid,
      o.metadata.name,
      o.spec.size.toHuman(),
      o.spec.format ?? 'ext4',
      volumeUsers(vms, o.metadata.name)
        .map((v) => v.metadata.name)
        .join(','),
      o.metadata.created ? ago(new Date(o.metadata.created), now) : '',
    ]);
    return formatTable(['VOLUME ID', 'NAME', 'SIZE', 'FORMAT', 'VMS', 'CREATED'], rows);
  };
  ctx.out(await listOutput(objs, { quiet: ctx.globals(cmd).quiet, output: opts.output }, table));
}
