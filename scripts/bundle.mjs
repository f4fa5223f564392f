// Bundles the entry points into single CommonJS files (dist/ignite.cjs, dist/ignite-spawn.cjs,
// dist/ignited.cjs), each with a V8 code cache beside it (bin/load-bundle.cjs): one file
// loads much faster than hundreds of modules, a cached one faster still, and every VM start runs
// both.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
for (const [entry, out] of [
  ['src/cli/main.ts', 'dist/ignite.cjs'],
  ['src/spawn/main.ts', 'dist/ignite-spawn.cjs'],
  ['src/daemon/main.ts', 'dist/ignited.cjs'],
]) {
  const file = join(root, out);
  rmSync(`${file}.cache`, { force: true });
  await build({
    entryPoints: [join(root, entry)],
    outfile: file,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    define: { 'import.meta.dirname': '__dirname' },
    logLevel: 'warning',
  });
  // The build's identity, which its code cache must carry (see bin/load-bundle.cjs).
  const id = createHash('sha256').update(readFileSync(file)).digest('hex');
  appendFileSync(file, `//# ignite-build=${id}\n`);
  // The cache is taken after a run of --help, so it holds the functions start-up compiles, not
  // only the top level; the run's output is not wanted.
  execFileSync(
    process.execPath,
    [
      '-e',
      `require(${JSON.stringify(join(root, 'bin/load-bundle.cjs'))}).loadBundle(${JSON.stringify(file)}, { writeCache: true })`,
      '--',
      file, // argv[1], as when a launcher runs it
      '--help',
    ],
    { stdio: 'ignore' },
  );
}
