import { Command } from 'commander';
import { toPlain, type APIObject } from '../../api/index.js';
import { formatData, formatObject, parseOutput } from './format.js';

/** What every `ls` of stored objects takes: `-o table|json|yaml|{{template}}`. */
export interface ListOptions {
  output: string;
}

/** An `ls` subcommand (alias `list`) with the `-o` every listing takes. */
export function listSubcommand(
  description: string,
  action: (opts: ListOptions, cmd: Command) => Promise<void>,
): Command {
  return new Command('ls')
    .aliases(['list'])
    .description(description)
    .option(
      '-o, --output <format>',
      'table, json, yaml, or a {{template}} applied to each',
      'table',
    )
    .action(action);
}

/**
 * A listing's text: the IDs with `quiet`, each object through a template, all of them as JSON
 * or YAML, else the table `table` makes (asked only then, as it may read more).
 */
export async function listOutput<T extends APIObject & { metadata: { uid: string } }>(
  objs: readonly T[],
  o: { quiet: boolean; output: string },
  table: () => string | Promise<string>,
): Promise<string> {
  const format = parseOutput(o.output, ['table', 'json', 'yaml'], 'table');
  if (o.quiet) return objs.map((x) => `${x.metadata.uid}\n`).join('');
  if (typeof format === 'object') return objs.map((x) => formatObject(x, format)).join('');
  if (format === 'json' || format === 'yaml')
    return formatData(
      objs.map((x) => toPlain(x)),
      format,
    );
  return table();
}
