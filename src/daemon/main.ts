import { processIO } from '../system/program-io.js';
import { runDaemonProgram } from './program.js';

// The ignited entry (dist/ignited.cjs via bin/ignited.js). No top-level await: the bundle is
// CommonJS (scripts/bundle.mjs).
// Once the program returns, everything it owns is closed and its VMs run on under their own
// supervisors, so the daemon exits then: the etcd client's watch streams keep retrying on timers
// of their own after it is closed while etcd is unreachable, and must not keep it alive.
void runDaemonProgram(process.argv.slice(2), processIO(process)).then((code) => {
  process.exit(code);
});
