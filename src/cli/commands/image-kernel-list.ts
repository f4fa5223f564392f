import { Command } from 'commander';
import { Size, toPlain, type Image, type Kernel, type Stored } from '../../api/index.js';
import { systemClock } from '../../system/system-clock.js';
import type { CliContext } from '../context.js';
import { ago, formatData, formatObject, formatTable, parseOutput } from '../output/format.js';

/** `image ls` and `kernel ls`: the stored images or kernels, as Ignite's tables showed them. */
export function listCommand(ctx: CliContext, kind: 'Image' | 'Kernel'): Command {
  const noun = kind.toLowerCase();
  return new Command('ls')
    .aliases(['list'])
    .description(`List ${noun}s`)
    .option(
      '-o, --output <format>',
      'table, json, yaml, or a {{template}} applied to each object',
      'table',
    )
    .action((opts: { output: string }, cmd: Command) => runList(ctx, cmd, kind, opts));
}

export async function runList(
  ctx: CliContext,
  cmd: Command,
  kind: 'Image' | 'Kernel',
  opts: { output: string },
): Promise<void> {
  const g = ctx.globals(cmd);
  const engine = await ctx.engine(cmd);
  const format = parseOutput(opts.output, ['table', 'json', 'yaml'], 'table');
  const objs: (Stored<Image> | Stored<Kernel>)[] = await engine.listArtifacts(kind);
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
  const header = [
    `${kind.toUpperCase()} ID`,
    'NAME',
    'CREATED',
    'SIZE',
    ...(kind === 'Kernel' ? ['VERSION'] : []),
  ];
  const rows = objs.map((o) => [
    o.metadata.uid,
    o.metadata.name,
    o.metadata.created ? ago(new Date(o.metadata.created), now) : '',
    (o.status?.ociSource?.size ?? Size.fromBytes(0)).toHuman(),
    ...(o.kind === 'Kernel' ? [o.status?.version ?? '<unknown>'] : []),
  ]);
  ctx.out(formatTable(header, rows));
}
