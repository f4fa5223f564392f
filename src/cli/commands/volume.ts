import { Command } from 'commander';
import { compareText, Size, toPlain, VolumeFormatSchema } from '../../api/index.js';
import { invalidArgument } from '../../errors.js';
import { createVolume, removeVolume, volumeUsers } from '../../operations/volumes.js';
import type { CliContext } from '../context.js';
import { localInspectCommand } from './inspect.js';
import { ago, formatData, formatObject, formatTable, parseOutput } from '../output/format.js';

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
    new Command('ls')
      .aliases(['list'])
      .description('List named volumes and the VMs that use them')
      .option(
        '-o, --output <format>',
        'table, json, yaml, or a {{template}} applied to each',
        'table',
      )
      .action((opts: { output: string }, cmd: Command) => listVolumes(ctx, cmd, opts)),
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

async function listVolumes(ctx: CliContext, cmd: Command, opts: { output: string }): Promise<void> {
  const g = ctx.globals(cmd);
  const deps = await ctx.localServices(cmd, 'volumes');
  const format = parseOutput(opts.output, ['table', 'json', 'yaml'], 'table');
  const objs = await deps.client.volumes.list();
  objs.sort((a, b) => compareText(a.metadata.name, b.metadata.name));
  if (g.quiet) return ctx.out(objs.map((o) => `${o.metadata.uid}\n`).join(''));
  if (typeof format === 'object') return ctx.out(objs.map((o) => formatObject(o, format)).join(''));
  if (format === 'json' || format === 'yaml')
    return ctx.out(
      formatData(
        objs.map((o) => toPlain(o)),
        format,
      ),
    );
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
  ctx.out(formatTable(['VOLUME ID', 'NAME', 'SIZE', 'FORMAT', 'VMS', 'CREATED'], rows));
}
