import { runSpawn } from './program.js';

// The ignite-spawn entry (dist/ignite-spawn.mjs, bin/ignite-spawn.js).
process.exitCode = await runSpawn(process.argv.slice(2));
