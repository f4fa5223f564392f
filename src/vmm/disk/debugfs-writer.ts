import { mkdtemp, rm, writeFile, copyFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
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

/**
 * Writes files into an unmounted ext4 image with `debugfs -w`, commands fed from a file (never a
 * shell). Parent directories are created as needed; an existing file or symlink at the path is
 * replaced. Each file's mode and owner are set explicitly.
 */
export async function writeGuestFiles(
  image: string,
  files: readonly GuestFile[],
  label: string,
): Promise<void> {
  if (files.length === 0) return;
  const work = await mkdtemp(join(tmpdir(), 'ignite-debugfs-'));
  try {
    const cmds: string[] = [];
    const made = new Set<string>();
    for (const [i, f] of files.entries()) {
      checkGuestPath(f.guestPath, label);
      if (f.directory === true) {
        const parts = f.guestPath.split('/').filter(Boolean);
        for (let j = 1; j <= parts.length; j++) {
          const d = `/${parts.slice(0, j).join('/')}`;
          if (!made.has(d)) cmds.push(`mkdir ${d}`);
          made.add(d);
        }
        continue;
      }
      const src = join(work, `f${i}`);
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
      const parts = posix.dirname(f.guestPath).split('/').filter(Boolean);
      for (let j = 1; j <= parts.length; j++) {
        const d = `/${parts.slice(0, j).join('/')}`;
        if (!made.has(d)) {
          cmds.push(`mkdir ${d}`);
          // sshd refuses keys in a directory others can read.
          if (d.endsWith('/.ssh')) cmds.push(`set_inode_field ${d} mode 040700`);
        }
        made.add(d);
      }
      cmds.push(`rm ${f.guestPath}`, `write ${src} ${f.guestPath}`);
      cmds.push(`set_inode_field ${f.guestPath} mode 0${(0o100000 | (mode & 0o7777)).toString(8)}`);
      cmds.push(
        `set_inode_field ${f.guestPath} uid ${f.uid ?? 0}`,
        `set_inode_field ${f.guestPath} gid ${f.gid ?? 0}`,
      );
    }
    await writeFile(join(work, 'cmds'), `${cmds.join('\n')}\n`);
    // debugfs reports "already exists" for mkdir and "not found" for rm of a new file on
    // stderr and goes on; the read-back below is what decides success.
    await runUnchecked('debugfs', ['-w', '-f', join(work, 'cmds'), image]);
    // One read-back for all files: debugfs echoes each command ("debugfs: stat /x") before its
    // output, which splits the output per file.
    await writeFile(
      join(work, 'verify'),
      `${files.map((f) => `stat ${f.guestPath}`).join('\n')}\n`,
    );
    const r = await run('debugfs', ['-f', join(work, 'verify'), image]);
    const sections = new Map<string, string>();
    for (const part of r.stdout.split(/^debugfs: stat /m).slice(1)) {
      const nl = part.indexOf('\n');
      sections.set(part.slice(0, nl).trim(), part.slice(nl + 1));
    }
    for (const f of files) {
      const want = f.directory === true ? /Type: directory/ : /Type: regular/;
      if (!want.test(sections.get(f.guestPath) ?? ''))
        throw internal(`${label}: writing ${f.guestPath} into the root disk failed`);
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Reads a file back out of an ext4 image (for tests and checks). */
export async function readGuestFile(image: string, path: string): Promise<string> {
  const r = await run('debugfs', ['-R', `cat ${path}`, image]);
  return r.stdout;
}
