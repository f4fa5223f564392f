import type { Command } from 'commander';
import { getVersion } from '../../operations/version.js';
import type { CliContext } from '../context.js';
import { formatData, parseOutput } from '../output/format.js';

export function registerVersion(program: Command, ctx: CliContext): void {
  program
    .command('version')
    .description('Print the version of ignite')
    .option('-o, --output <format>', 'output format: short, json, yaml, or a {{template}}')
    .action((opts: { output?: string }) => {
      const info = getVersion(ctx.build());
      const format = parseOutput(opts.output, ['short', 'json', 'yaml', 'table'], 'table');
      if (format === 'short') return ctx.out(`${info.version}\n`);
      if (format === 'table') {
        return ctx.out(
          `Ignite version: ${info.version}\nGit commit: ${info.gitCommit}\nBuild date: ${info.buildDate}\nNode version: ${info.nodeVersion}\nPlatform: ${info.platform}\n`,
        );
      }
      ctx.out(formatData(info, format));
    });
}
