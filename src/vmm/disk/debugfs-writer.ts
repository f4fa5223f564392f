import { writeFile, copyFile, stat } from 'node:fs/promises';
import { join, posix, resolve } from 'node:path';
import { internal, invalidArgument } from '../../errors.js';
import { run, runUnchecked } from '../../system/exec.js';
import type { GuestFile } from './root-disk.js';

/** Guest paths debugfs can take without quoting; anything else is refused rather than escaped. */
const SAFE_PATH = /^\/[A-Za-z0-9._+@:=,/-]*$/;

export function checkGuestPath(path: string, label: string): void {
  if (!SAFE_PATH.test(path) || path.split('/').some((p) => p === '..')) {
    throw invalidArgument(
      `${label}: guest path "${path}": use an absolute path of letters, digits and ._+@:=,- (no spaces, quotes or "..")`,
    );
  }
}

/** One entry a batch must have made, as `stat` shows its type, and how an error names it. */
export interface DebugfsExpected {
  guestPath: string;
  type: 'directory' | 'regular' | 'symlink';
  what: string;
}

/**
 * `debugfs -w` commands, staged bodies in a work directory of the caller's, and what they must
 * have made. Batches for one image go into one debugfs run (each start reads the filesystem's
 * metadata afresh, a fair part of a VM's create). Commands name staged bodies by their names in
 * the work directory, where debugfs runs: the directory's own path (a data dir's, with spaces or
 * anything else) never goes through debugfs's command parser.
 */
export interface DebugfsBatch {
  cmds: string[];
  expect: DebugfsExpected[];
}

/**
 * The batch that writes `files` into an image: parent directories are created as needed, an
 * existing file or symlink at the path is replaced, and each file's mode and owner are set
 * explicitly. Bodies are staged in `work`.
 */
export async function guestFilesBatch(
  files: readonly GuestFile[],
  work: string,
  label: string,
): Promise<DebugfsBatch> {
  const cmds: string[] = [];
  const expect: DebugfsExpected[] = [];
  const made = new Set<string>();
  const mkdirs = (dirs: string[]) => {
    for (let j = 1; j <= dirs.length; j++) {
      const d = `/${dirs.slice(0, j).join('/')}`;
      if (made.has(d)) continue;
      made.add(d);
      cmds.push(`mkdir ${d}`);
      // sshd refuses keys in a directory others can read.
      if (d.endsWith('/.ssh')) cmds.push(`set_inode_field ${d} mode 040700`);
    }
  };
  for (const [i, f] of files.entries()) {
    checkGuestPath(f.guestPath, label);
    const what = f.guestPath;
    if (f.directory === true) {
      mkdirs(f.guestPath.split('/').filter(Boolean));
      expect.push({ guestPath: f.guestPath, type: 'directory', what });
      continue;
    }
    const staged = `f${i}`;
    const src = join(work, staged);
    let mode = f.mode ?? 0o644;
    if (f.hostPath !== undefined) {
      const st = await stat(f.hostPath).catch(() => undefined);
      if (!st?.isFile())
        throw invalidArgument(`${label}: copy file ${f.hostPath}: not a file on the host`);
      await copyFile(f.hostPath, src);
      mode = f.mode ?? st.mode & 0o7777;
    } else {
      await writeFile(src, f.content ?? '');
    }
    mkdirs(posix.dirname(f.guestPath).split('/').filter(Boolean));
    cmds.push(`rm ${f.guestPath}`, `write ${staged} ${f.guestPath}`);
    cmds.push(`set_inode_field ${f.guestPath} mode 0${(0o100000 | (mode & 0o7777)).toString(8)}`);
    cmds.push(
      `set_inode_field ${f.guestPath} uid ${f.uid ?? 0}`,
      `set_inode_field ${f.guestPath} gid ${f.gid ?? 0}`,
    );
    expect.push({ guestPath: f.guestPath, type: 'regular', what });
  }
  return { cmds, expect };
}

/**
 * Runs batches against an unmounted ext4 image in one `debugfs -w`, commands fed from a file in
 * `work` (never a shell), and checks that each made what it should.
 */
export async function applyDebugfsBatches(
  image: string,
  work: string,
  batches: readonly DebugfsBatch[],
  label: string,
): Promise<void> {
  const expect = batches.flatMap((b) => b.expect);
  if (expect.length === 0) return;
  // debugfs reports "already exists" for mkdir and "not found" for rm of a new file on stderr,
  // and goes on past any failed command; the stats at the end of the same run decide success.
  // debugfs echoes each command ("debugfs: stat /x") before its output, which splits the
  // output per entry.
  const cmds = [...batches.flatMap((b) => b.cmds), ...expect.map((e) => `stat ${e.guestPath}`)];
  const file = 'debugfs-cmds';
  await writeFile(join(work, file), `${cmds.join('\n')}\n`);
  const r = await runUnchecked('debugfs', ['-w', '-f', file, resolve(image)], { cwd: work });
  // The stats see debugfs's own view; the writes reach the disk as it closes the filesystem,
  // and a failure there shows only on stderr, under the name of the call that failed.
  if (/ext2fs_(close|write|flush)/.test(r.stderr))
    throw internal(`${label}: writing the root disk failed: ${r.stderr.trim()}`);
  const types = new Map<string, string>();
  for (const part of r.stdout.split(/^debugfs: stat /m).slice(1)) {
    const nl = part.indexOf('\n');
    types.set(part.slice(0, nl).trim(), /Type: (\w+)/.exec(part)?.[1] ?? '');
  }
  for (const e of expect) {
    if (types.get(e.guestPath) !== e.type)
      throw internal(`${label}: writing ${e.what} into the root disk failed`);
  }
}

/** Reads a file back out of an ext4 image (for tests and checks). */
export async function readGuestFile(image: string, path: string): Promise<string> {
  const r = await run('debugfs', ['-R', `cat ${path}`, image]);
  return r.stdout;
}
