// Builds the web console the daemon serves (src/daemon/ui-files.ts) into dist/ui/: the page,
// its script bundled with xterm.js, its style, and xterm's style. The file names are fixed: the
// daemon serves exactly these.
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const out = join(root, 'dist', 'ui');
const require = createRequire(import.meta.url);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: join(root, 'ui/main.ts'), 'app-style': join(root, 'ui/style.css') },
  outdir: out,
  bundle: true,
  minify: true,
  platform: 'browser',
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  legalComments: 'eof',
  logLevel: 'warning',
});
// esbuild names a CSS entry's output after its key; the page links app.css.
copyFileSync(join(out, 'app-style.css'), join(out, 'app.css'));
rmSync(join(out, 'app-style.css'));
copyFileSync(join(root, 'ui/index.html'), join(out, 'index.html'));
copyFileSync(require.resolve('@xterm/xterm/css/xterm.css'), join(out, 'xterm.css'));
