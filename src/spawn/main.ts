import { processIO } from '../system/program-io.js';
import { envTracer } from '../system/trace.js';
import { runSpawn } from './program.js';

envTracer(process.env, 'spawn', process.stdout, process.pid).mark('bundle loaded');

// The ignite-spawn entry (dist/ignite-spawn.cjs via bin/ignite-spawn.js). No top-level await: the
// bundle is CommonJS (scripts/bundle.mjs).
void runSpawn(process.argv.slice(2), processIO(process)).then((code) => {
  process.exitCode = code;
  // Everything it opened is closed by now. A supervisor was once seen to stay after its idle
  // end, with no handle of its own left: it must not, so it ends at the latest a second later.
  setTimeout(() => process.exit(code), 1000).unref();
});
