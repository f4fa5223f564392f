import { processIO } from '../system/program-io.js';
import { envTracer } from '../system/trace.js';
import { runCli } from './run.js';

envTracer(process.env, 'cli', process.stderr, process.pid).mark('bundle loaded');

// The process's one entry: everything below returns exit codes or throws AppErrors. No top-level
// await: the bundle is CommonJS (scripts/bundle.mjs).
void runCli(process.argv.slice(2), processIO(process)).then((code) => {
  process.exitCode = code;
});
