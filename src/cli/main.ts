import { runCli } from './run.js';

// The process's one entry: everything below returns exit codes or throws AppErrors.
const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
process.exitCode = code;
