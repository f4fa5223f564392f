import { CommanderError } from 'commander';
import { toAppError } from '../errors.js';
import { CliContext, type CliIO } from './context.js';
import { EXIT_CODES } from './exit-codes.js';
import { buildProgram } from './program.js';

/**
 * Runs the CLI on `argv` (without node and script) and returns the exit code. Errors become one
 * `Error: …` line on stderr (one more per manifest problem, and a hint when there is one); the
 * cause chain is shown only with --log-level debug or trace.
 */
export async function runCli(argv: readonly string[], io: CliIO): Promise<number> {
  const ctx = new CliContext(io);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    await ctx.close();
    return ctx.exitCode ?? EXIT_CODES.Success;
  } catch (err) {
    await ctx.close().catch(() => undefined);
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT_CODES.Success;
      return EXIT_CODES.Usage;
    }
    const appErr = toAppError(err);
    io.stderr.write(`Error: ${appErr.message}\n`);
    if (appErr.hint !== undefined) io.stderr.write(`Hint: ${appErr.hint}\n`);
    if (wantsDebug(argv)) io.stderr.write(describeCauses(err));
    return EXIT_CODES[appErr.code];
  }
}

function wantsDebug(argv: readonly string[]): boolean {
  const i = argv.findIndex((a) => a === '--log-level' || a.startsWith('--log-level='));
  if (i < 0) return false;
  const value = argv[i]?.includes('=') ? argv[i]?.split('=')[1] : argv[i + 1];
  return value === 'debug' || value === 'trace';
}

function describeCauses(err: unknown): string {
  const lines: string[] = [];
  let cur: unknown = err;
  for (let depth = 0; cur !== undefined && depth < 8; depth++) {
    if (cur instanceof Error) {
      lines.push(`${depth === 0 ? 'Trace' : 'Caused by'}: ${cur.stack ?? cur.message}`);
      cur = cur.cause;
    } else {
      lines.push(`Caused by: ${JSON.stringify(cur)}`);
      break;
    }
  }
  return `${lines.join('\n')}\n`;
}
