import { processSignals } from '../system/program-io.js';
import { runSpawn } from './program.js';

// The ignite-spawn entry (dist/ignite-spawn.cjs via bin/ignite-spawn.js). No top-level await: the
// bundle is CommonJS (scripts/bundle.mjs).
void runSpawn(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  signals: processSignals(process),
}).then((code) => {
  process.exitCode = code;
});
