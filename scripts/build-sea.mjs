// Builds dist/ignite: one executable (Node's single executable applications) that runs every
// command and ignite-spawn, with no node_modules beside it. Run after `npm run build`.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const work = join(root, 'dist', 'sea');
const out = join(root, 'dist', 'ignite');
mkdirSync(work, { recursive: true });

// SEA runs one CommonJS script; `import.meta` does not exist there, and the code asks node:sea
// for what it would have read beside itself.
await build({
  entryPoints: [join(root, 'src/cli/sea-main.ts')],
  outfile: join(work, 'ignite.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  define: {
    'import.meta.dirname': '__dirname',
    'import.meta.url': '__filename',
    // ws looks for optional native add-ons with require(); a single executable can load none,
    // and Node warns on every command that tries.
    'process.env.WS_NO_BUFFER_UTIL': '"1"',
    'process.env.WS_NO_UTF_8_VALIDATE': '"1"',
  },
  logLevel: 'error',
});
const config = {
  main: join(work, 'ignite.cjs'),
  output: join(work, 'ignite.blob'),
  disableExperimentalSEAWarning: true,
  useCodeCache: true,
  assets: {
    'build-info.json': join(root, 'dist', 'build-info.json'),
    // The web console the daemon serves (src/system/packaging.ts readUIFile).
    ...Object.fromEntries(
      ['index.html', 'app.js', 'app.css', 'xterm.css'].map((f) => [
        `ui/${f}`,
        join(root, 'dist', 'ui', f),
      ]),
    ),
  },
};
writeFileSync(join(work, 'sea-config.json'), `${JSON.stringify(config, null, 2)}\n`);
execFileSync(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')], {
  stdio: 'inherit',
});
rmSync(out, { force: true });
copyFileSync(process.execPath, out);
chmodSync(out, 0o755);
execFileSync(
  process.execPath,
  [
    join(root, 'node_modules', 'postject', 'dist', 'cli.js'),
    out,
    'NODE_SEA_BLOB',
    config.output,
    '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
console.log(`built ${out}`);
