import { createReadStream, createWriteStream } from 'node:fs';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { internal } from '../../errors.js';
import { runUnchecked } from '../../system/exec.js';
import { checkGuestPath, type DebugfsBatch } from './debugfs-writer.js';
import type { GuestModules } from './root-disks.js';

/** Symlink targets debugfs can take unquoted; the import keeps no other. */
const SAFE_TARGET = /^[A-Za-z0-9._+@:=,/-]+$/;

/** One entry of the modules tar, as it goes into the guest. */
interface ModuleEntry {
  guestPath: string;
  kind: 'directory' | 'file' | 'symlink';
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  /** A file's bytes, staged on the host under a name of ours, in the work directory. */
  staged?: string;
  target?: string;
}

/**
 * `dir/./name`: debugfs resolves a new entry's parent without following a symlink in its last
 * component, so in an image whose `/lib` is a link to `usr/lib` (merged /usr) `mkdir
 * /lib/modules` fails; through `/.` the parent's own name is followed too.
 */
const viaParent = (path: string) => `${posix.dirname(path)}/./${posix.basename(path)}`;

/** Whether an unmounted ext4 image has `guestPath`, symlinks on the way followed inside it. */
export async function imageHasPath(image: string, guestPath: string): Promise<boolean> {
  checkGuestPath(guestPath, `image ${image}`);
  const r = await runUnchecked('debugfs', ['-R', `stat ${guestPath}`, image]);
  return /^Inode: \d+/m.test(r.stdout);
}

/** Reads the `<release>/` part of the modules tar, staging file bodies in `work`. */
async function readModules(m: GuestModules, work: string, label: string): Promise<ModuleEntry[]> {
  const entries: ModuleEntry[] = [];
  const staged = new Map<string, string>();
  const prefix = `${m.release}/`;
  const ex = extract();
  const consume = (async () => {
    for await (const e of ex) {
      const h = e.header;
      const name = h.name.replace(/\/+$/, '');
      try {
        if (name !== m.release && !name.startsWith(prefix)) continue;
        const guestPath = `/lib/modules/${name}`;
        checkGuestPath(guestPath, label);
        const meta = {
          guestPath,
          mode: (h.mode ?? 0o644) & 0o7777,
          uid: h.uid ?? 0,
          gid: h.gid ?? 0,
          mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000),
        };
        if (h.type === 'directory') entries.push({ ...meta, kind: 'directory' });
        else if (h.type === 'symlink' && SAFE_TARGET.test(h.linkname ?? ''))
          entries.push({ ...meta, kind: 'symlink', target: h.linkname ?? '' });
        else if (h.type === 'file') {
          const file = `m${entries.length}`;
          await pipeline(e, createWriteStream(join(work, file), { flags: 'wx', mode: 0o600 }));
          staged.set(name, file);
          entries.push({ ...meta, kind: 'file', staged: file });
        } else if (h.type === 'link' && staged.has(h.linkname ?? '')) {
          entries.push({ ...meta, kind: 'file', staged: staged.get(h.linkname ?? '') ?? '' });
        } else {
          throw internal(`${label}: modules ${m.tarPath}: entry "${h.name}" cannot be written`);
        }
      } finally {
        e.resume();
      }
    }
  })();
  await Promise.all([pipeline(createReadStream(m.tarPath), ex), consume]);
  return entries;
}

/**
 * The batch that writes a kernel's modules into an image, under `/lib/modules/<release>`: each
 * entry with the mode, owner and time it had in the kernel image. Missing parents (`/lib`,
 * `/lib/modules`) are made 0755 root. Bodies are staged in `work`.
 */
export async function guestModulesBatch(
  m: GuestModules,
  work: string,
  label: string,
): Promise<DebugfsBatch> {
  const entries = await readModules(m, work, label);
  if (entries.length === 0) return { cmds: [], expect: [] };
  // debugfs reports "already exists" for a parent the image has, and goes on.
  const cmds = ['mkdir /lib', 'mkdir /lib/./modules'];
  for (const e of entries) {
    const p = e.guestPath;
    if (e.kind === 'directory') cmds.push(`mkdir ${viaParent(p)}`);
    else if (e.kind === 'symlink') cmds.push(`symlink ${viaParent(p)} ${e.target ?? ''}`);
    else cmds.push(`write ${e.staged ?? ''} ${viaParent(p)}`);
    if (e.kind !== 'symlink') {
      const type = e.kind === 'directory' ? 0o40000 : 0o100000;
      cmds.push(`set_inode_field ${p} mode 0${(type | e.mode).toString(8)}`);
    }
    cmds.push(
      `set_inode_field ${p} uid ${e.uid}`,
      `set_inode_field ${p} gid ${e.gid}`,
      `set_inode_field ${p} mtime @${e.mtime}`,
    );
  }
  const statType = { directory: 'directory', file: 'regular', symlink: 'symlink' } as const;
  return {
    cmds,
    expect: entries.map((e) => ({
      guestPath: e.guestPath,
      type: statType[e.kind],
      what: `the kernel's ${e.guestPath}`,
    })),
  };
}
