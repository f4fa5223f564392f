import { processIO } from '../system/program-io.js';
import { runDaemonProgram } from './program.js';

// The ignited entry (dist/ignited.cjs via bin/ignited.js). No top-level await: the bundle is
// CommonJS (scripts/bundle.mjs).
void runDaemonProgram(process.argv.slice(2), processIO(process)).then((code) => {
  process.exitCode = code;
});
