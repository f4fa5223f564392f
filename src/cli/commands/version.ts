import type { Command } from 'commander';
import { getVersion, getVersionDetails } from '../../operations/version.js';
import { nodeHostFacts } from '../../system/node-host-facts.js';
import type { CliContext } from '../context.js';
import { formatData, parseOutput } from '../output/format.js';

export function registerVersion(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description('Print the version of ignite')
    .option('-o, --output <format>', 'output format: short, json, yaml, or a {{template}}')
    .action(async (opts: { output?: string }, cmd: Command) => {
      const info = getVersion(nodeHostFacts(), ctx.build());
      const format = parseOutput(opts.output, ['short', 'json', 'yaml', 'table'], 'table');
      if (format === 'short') return ctx.out(`${info.version}\n`);
      if (format === 'table') {
        return ctx.out(
          `Ignite version: ${info.version}\nGit commit: ${info.gitCommit}\nBuild date: ${info.buildDate}\nNode version: ${info.nodeVersion}\nPlatform: ${info.platform}\n`,
        );
      }
      // The tool probes run only here: the plain `version` stays a bare start-up.
      ctx.out(formatData(await getVersionDetails(ctx.services(cmd), ctx.build()), format));
    });
}
