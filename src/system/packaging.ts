import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { getAsset, isSea } from 'node:sea';

/** The argument by which the single executable runs itself as ignite-spawn. */
export const SEA_SPAWN_ARG = '--as-ignite-spawn';
/** The same for the daemon; a link to the executable named `ignited` also runs it. */
export const SEA_DAEMON_ARG = '--as-ignited';

/** How to start an ignite-spawn process: the program and the arguments before the VM's UID. */
export interface SpawnCommand {
  file: string;
  args: string[];
}

/** Version facts written at build time (scripts/write-build-info.mjs). */
export interface BuildInfo {
  version: string;
  gitCommit: string;
  buildDate: string;
}

/**
 * How this program is packaged: a single executable, a bundle (dist/*.cjs, where `here` is dist/
 * itself), or compiled modules (dist/<module>/*.js, or src/ under tsx).
 */
export type Packaging = 'single-executable' | 'bundle' | 'modules';

export function packaging(here: string = import.meta.dirname): Packaging {
  if (isSea()) return 'single-executable';
  return existsSync(join(here, 'ignite-spawn.cjs')) ? 'bundle' : 'modules';
}

/** The directory with the entry points and build-info.json: dist/ (or src/ under tsx). */
function distDir(kind: Packaging, here: string): string {
  return kind === 'bundle' ? here : join(here, '..');
}

/**
 * ignite-spawn is this same program's spawn entry, run by the same Node binary: the single
 * executable itself, the bundle's launcher (bin/ignite-spawn.js) when the CLI runs from the
 * bundle, or the compiled module.
 */
export function spawnCommand(
  kind: Packaging = packaging(),
  here: string = import.meta.dirname,
): SpawnCommand {
  if (kind === 'single-executable') return { file: process.execPath, args: [SEA_SPAWN_ARG] };
  const dist = distDir(kind, here);
  const entry =
    kind === 'bundle' ? join(dist, '..', 'bin', 'ignite-spawn.js') : join(dist, 'spawn', 'main.js');
  return { file: process.execPath, args: [entry] };
}

/** The build's version facts, with a fallback for runs from source. */
export function readBuildInfo(
  kind: Packaging = packaging(),
  here: string = import.meta.dirname,
): BuildInfo {
  try {
    if (kind === 'single-executable')
      return JSON.parse(getAsset('build-info.json', 'utf8')) as BuildInfo;
    const raw = readFileSync(join(distDir(kind, here), 'build-info.json'), 'utf8');
    return JSON.parse(raw) as BuildInfo;
  } catch {
    return { version: '0.0.0-dev', gitCommit: 'unknown', buildDate: 'unknown' };
  }
}

/**
 * A file of the web console (built by scripts/build-ui.mjs into dist/ui/, and carried as an
 * asset `ui/<name>` by the single executable), or undefined when it is not there. `name` is a
 * plain file name: anything with a path in it is refused.
 */
export function readUIFile(
  name: string,
  kind: Packaging = packaging(),
  here: string = import.meta.dirname,
): Buffer | undefined {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(name)) return undefined;
  try {
    if (kind === 'single-executable') return Buffer.from(getAsset(`ui/${name}`));
    const dist = distDir(kind, here);
    // Run from source (tsx), the built page is still in dist/.
    const dir = basename(dist) === 'src' ? join(dist, '..', 'dist', 'ui') : join(dist, 'ui');
    return readFileSync(join(dir, name));
  } catch {
    return undefined;
  }
}
