import type { Command } from 'commander';
import { Size, type Image, type Kernel, type Stored } from '../../api/index.js';
import { systemClock } from '../../system/system-clock.js';
import type { CliContext } from '../context.js';
import { ago, formatTable } from '../output/format.js';
import { listOutput, listSubcommand, type ListOptions } from '../output/list-output.js';

/** `image ls` and `kernel ls`: the stored images or kernels, as Ignite's tables showed them. */
export function listCommand(ctx: CliContext, kind: 'Image' | 'Kernel'): Command {
  return listSubcommand(`List ${kind.toLowerCase()}s`, (opts, cmd) =>
    runList(ctx, cmd, kind, opts),
  );
}

export async function runList(
  ctx: CliContext,
  cmd: Command,
  kind: 'Image' | 'Kernel',
  opts: ListOptions,
): Promise<void> {
  const engine = await ctx.engine(cmd);
  const objs: (Stored<Image> | Stored<Kernel>)[] = await engine.listArtifacts(kind);
  const table = () => {
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
    return formatTable(header, rows);
  };
  ctx.out(await listOutput(objs, { quiet: ctx.globals(cmd).quiet, output: opts.output }, table));
}
