import { Command } from 'commander';
import { Size, toPlain } from '../../api/index.js';
import { systemClock } from '../../system/system-clock.js';
import type { CliContext } from '../context.js';
import { snapshotInspectCommand } from './inspect.js';
import { parseDuration } from '../options.js';
import { ago, formatData, formatObject, formatTable, parseOutput } from '../output/format.js';

/** `ignite snapshot`: create, list, inspect and remove snapshots of running VMs. */
export function snapshotCommand(ctx: CliContext): Command {
  const group = new Command('snapshot')
    .aliases(['snapshots'])
    .description('Manage snapshots: VMs saved while they ran (bare "snapshot" lists them)');
  group.addCommand(
    new Command('create')
      .description(
        'Snapshot a running VM: pause it, save its memory and devices and freeze its disk, then let it go on (--stop: end it, its next start resumes from the snapshot)',
      )
      .argument('<vm>', 'name, ID, or a unique prefix of either')
      .option('--name <name>', "the snapshot's name (default <vm>-<n>)")
      .option('--stop', 'stop the VM once saved; its next start resumes from this state', false)
      .option('--timeout <duration>', 'how long the save may take', '180s')
      .action(
        async (
          vm: string,
          opts: { name?: string; stop: boolean; timeout: string },
          cmd: Command,
        ) => {
          const snap = await (
            await ctx.snapshots(cmd)
          ).createSnapshot(vm, {
            ...(opts.name !== undefined ? { name: opts.name } : {}),
            stop: opts.stop,
            timeoutMs: parseDuration(opts.timeout),
          });
          ctx.out(`${snap.metadata.uid}\n`);
        },
      ),
  );
  group.addCommand(
    new Command('ls')
      .aliases(['list'])
      .description('List snapshots')
      .option(
        '-o, --output <format>',
        'table, json, yaml, or a {{template}} applied to each',
        'table',
      )
      .action((opts: { output: string }, cmd: Command) => listSnapshots(ctx, cmd, opts)),
  );
  group.addCommand(snapshotInspectCommand(ctx));
  group.addCommand(
    new Command('rm')
      .description(
        'Remove snapshots and their files; refuses one a VM or snapshot sits on, unless -f',
      )
      .argument('<snapshot...>', 'names, IDs, or unique prefixes')
      .option('-f, --force', 'remove it even so: what sits on it can no longer start', false)
      .action(async (queries: string[], opts: { force: boolean }, cmd: Command) => {
        const snaps = await ctx.snapshots(cmd);
        for (const q of queries)
          ctx.out(`${await snaps.removeSnapshot(q, { force: opts.force })}\n`);
      }),
  );
  group.action((_o: unknown, cmd: Command) => listSnapshots(ctx, cmd, { output: 'table' }));
  return group;
}

async function listSnapshots(
  ctx: CliContext,
  cmd: Command,
  opts: { output: string },
): Promise<void> {
  const g = ctx.globals(cmd);
  const format = parseOutput(opts.output, ['table', 'json', 'yaml'], 'table');
  const objs = await (await ctx.snapshots(cmd)).listSnapshots();
  if (g.quiet) return ctx.out(objs.map((o) => `${o.metadata.uid}\n`).join(''));
  if (typeof format === 'object') return ctx.out(objs.map((o) => formatObject(o, format)).join(''));
  if (format === 'json' || format === 'yaml')
    return ctx.out(
      formatData(
        objs.map((o) => toPlain(o)),
        format,
      ),
    );
  const now = systemClock.now();
  const rows = objs.map((o) => [
    o.metadata.uid,
    o.metadata.name,
    o.spec.source.name,
    o.spec.memory.toHuman(),
    (o.status.size ?? Size.fromBytes(0)).toHuman(),
    o.status.saveSeconds !== undefined ? `${o.status.saveSeconds.toFixed(2)}s` : '',
    o.metadata.created ? ago(new Date(o.metadata.created), now) : '',
  ]);
  ctx.out(formatTable(['SNAPSHOT ID', 'NAME', 'VM', 'MEMORY', 'SIZE', 'SAVE', 'CREATED'], rows));
}
