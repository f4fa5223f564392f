import { runCli } from './run.js';

// The only place the process exits: everything below returns codes or throws AppErrors.
const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
process.exitCode = code;
