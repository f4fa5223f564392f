import { basename } from 'node:path';
import { runDaemonProgram } from '../daemon/program.js';
import { SEA_DAEMON_ARG, SEA_SPAWN_ARG } from '../system/packaging.js';
import { processIO } from '../system/program-io.js';
import { runSpawn } from '../spawn/program.js';
import { runCli } from './run.js';

/**
 * The entry of the single executable (`npm run build:sea` → dist/ignite): the CLI; ignite-spawn
 * when the binary runs itself as a VM's supervisor; ignited when started as `ignited`. It is
 * bundled as CommonJS, which has no top-level await.
 */
async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const io = processIO(process);
  if (args[0] === SEA_SPAWN_ARG) return runSpawn(args.slice(1), io);
  if (args[0] === SEA_DAEMON_ARG) return runDaemonProgram(args.slice(1), io);
  if (basename(process.argv0) === 'ignited') return runDaemonProgram(args, io);
  return runCli(args, io);
}

void main().then((code) => {
  process.exitCode = code;
  // As spawn/main.ts: a supervisor that has ended ends its process a second later at the latest.
  if (process.argv[2] === SEA_SPAWN_ARG) setTimeout(() => process.exit(code), 1000).unref();
});
