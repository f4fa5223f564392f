import { processSignals } from '../system/program-io.js';
import { runDaemonProgram } from './program.js';

// The ignited entry (dist/ignited.cjs via bin/ignited.js). No top-level await: the bundle is
// CommonJS (scripts/bundle.mjs).
void runDaemonProgram(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  signals: processSignals(process),
}).then((code) => {
  process.exitCode = code;
});
