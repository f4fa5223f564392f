// Bundles the two entry points into single files (dist/ignite.mjs, dist/ignite-spawn.mjs): one
// file loads much faster than hundreds of modules, and every VM start runs both.
import { build } from 'esbuild';

const banner =
  "import { createRequire as __igniteCreateRequire } from 'node:module'; const require = __igniteCreateRequire(import.meta.url);";
for (const [entry, out] of [
  ['src/cli/main.ts', 'dist/ignite.mjs'],
  ['src/spawn/main.ts', 'dist/ignite-spawn.mjs'],
]) {
  await build({
    entryPoints: [entry],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    banner: { js: banner },
    logLevel: 'warning',
  });
}
