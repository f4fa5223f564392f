import { Command } from 'commander';
import { parseKind } from '../../api/index.js';
import { invalidArgument } from '../../errors.js';
import { inspectObject } from '../../operations/inspect.js';
import type { CliContext } from '../context.js';
import { formatObject, parseOutput, type OutputFormat } from '../output/format.js';

export function registerInspect(program: Command, ctx: CliContext): void {
  program
    .command('inspect')
    .description(
      'Inspect a VM, image, kernel or snapshot: prints the stored object (JSON by default)',
    )
    .argument('<kind>', 'vm, image, kernel or snapshot')
    .argument('<object>', 'name, UID, or a unique prefix of either')
    .option(
      '-o, --output <format>',
      'json, yaml, or a Go-style template such as {{.Spec.CPUs}}',
      'json',
    )
    .option('-t, --template <template>', 'a Go-style template, as in later Ignite versions')
    .addHelpText(
      'after',
      "\nExamples:\n  ignite inspect vm web\n  ignite inspect vm web -o yaml\n  ignite inspect vm web -o '{{.Spec.CPUs}}'\n  ignite inspect image busybox | jq .status",
    )
    .action(
      async (
        kindArg: string,
        query: string,
        opts: { output: string; template?: string },
        cmd: Command,
      ) => {
        const kind = parseKind(kindArg);
        if (!kind)
          throw invalidArgument(
            `kind "${kindArg}": unknown (use vm, image, kernel, snapshot, host or volume)`,
          );
        const format = parseOutput(
          opts.template ?? opts.output,
          ['json', 'yaml'],
          'json',
        ) as OutputFormat;
        const engine = await ctx.engine(cmd);
        const obj =
          kind === 'VM'
            ? await engine.findVM(query)
            : kind === 'Snapshot'
              ? await (await ctx.snapshots(cmd)).findSnapshot(query)
              : kind === 'Host' || kind === 'Volume' || kind === 'Network'
                ? await (
                    await ctx.localServices(cmd, `${kind.toLowerCase()}s`)
                  ).client
                    .of(kind)
                    .find(query)
                : await engine.findArtifact(kind, query);
        ctx.out(formatObject(obj, format));
      },
    );
}

/**
 * `<kind> inspect`, for the kinds this host keeps and the daemon's API does not serve (volumes):
 * the object as stored, JSON by default.
 */
export function localInspectCommand(ctx: CliContext, kind: 'Volume'): Command {
  const noun = kind.toLowerCase();
  return new Command('inspect')
    .description(`Print a ${noun} (JSON by default)`)
    .argument(`<${noun}>`, 'name, ID, or a unique prefix of either')
    .option('-o, --output <format>', 'json, yaml, or a {{template}}', 'json')
    .action(async (query: string, opts: { output: string }, cmd: Command) => {
      const format = parseOutput(opts.output, ['json', 'yaml'], 'json') as OutputFormat;
      const deps = await ctx.localServices(cmd, `${noun}s`);
      ctx.out(formatObject(await inspectObject(deps, kind, query), format));
    });
}

/** `snapshot inspect`: here, or through the daemon named by --host or IGNITE_HOST. */
export function snapshotInspectCommand(ctx: CliContext): Command {
  return new Command('inspect')
    .description('Print a snapshot (JSON by default)')
    .argument('<snapshot>', 'name, ID, or a unique prefix of either')
    .option('-o, --output <format>', 'json, yaml, or a {{template}}', 'json')
    .action(async (query: string, opts: { output: string }, cmd: Command) => {
      const format = parseOutput(opts.output, ['json', 'yaml'], 'json') as OutputFormat;
      ctx.out(formatObject(await (await ctx.snapshots(cmd)).findSnapshot(query), format));
    });
}
