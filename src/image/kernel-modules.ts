import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pack, type Header, type Pack } from 'tar-stream';
import { invalidArgument } from '../errors.js';
import type { TreeNode } from './layer-tree.js';
import type { EntryMeta, KernelFile, KernelInode, KernelTree } from './kernel-tree.js';

/** Names a VM's disk can be given without quoting; a modules tree of other names is refused. */
const SAFE_NAME = /^[A-Za-z0-9._+@:=,-]+$/;
const SAFE_TARGET = /^[A-Za-z0-9._+@:=,/-]+$/;

/** One entry of a kernel image's `/lib/modules`, named as in the modules tar (`<release>/…`). */
export type ModuleEntry =
  | { kind: 'directory'; name: string; meta: EntryMeta }
  | { kind: 'symlink'; name: string; meta: EntryMeta; target: string }
  | { kind: 'file'; name: string; meta: EntryMeta; node: KernelFile }
  /** A second name of a file (a hardlink), written after every file. */
  | { kind: 'link'; name: string; meta: EntryMeta; first: string };

export interface ModulesPlan {
  /** The release directories, `/lib/modules/<release>`. */
  releases: string[];
  entries: ModuleEntry[];
}

/**
 * What the image's `/lib/modules` holds, read from the tree (a `/lib` that is a symlink inside
 * the image is followed there): each release directory and everything below it, parents before
 * children; symlinks are kept as symlinks, never followed. Undefined when the image has none.
 * A name or symlink target with characters other than letters, digits and `._+@:=,-` (and `/`
 * in a target), or an entry that is not a file, directory or symlink, rejects the kernel image.
 */
export function planModules(tree: KernelTree, label: string): ModulesPlan | undefined {
  const top = tree.resolve('lib/modules');
  if (!top.ok || top.node.children === undefined) return undefined;
  const entries: ModuleEntry[] = [];
  const releases: string[] = [];
  const firstName = new Map<KernelFile, string>();
  const links: ModuleEntry[] = [];
  const reject = (name: string, why: string): never => {
    throw invalidArgument(`${label}: /lib/modules/${name}: ${why}; the kernel image is rejected`);
  };
  const walk = (name: string, node: TreeNode<KernelInode>): void => {
    const base = name.slice(name.lastIndexOf('/') + 1);
    if (!SAFE_NAME.test(base))
      reject(name, 'a name of other characters than letters, digits and ._+@:=,-');
    const inode = node.inode;
    switch (inode.kind) {
      case 'directory':
        entries.push({ kind: 'directory', name, meta: inode.meta });
        for (const [child, sub] of [...(node.children ?? [])].sort(([a], [b]) => (a < b ? -1 : 1)))
          walk(`${name}/${child}`, sub);
        return;
      case 'symlink': {
        const target = inode.target.toString('utf8');
        if (!SAFE_TARGET.test(target)) reject(name, `a symlink to "${target}"`);
        entries.push({ kind: 'symlink', name, meta: inode.meta, target });
        return;
      }
      case 'file': {
        const first = firstName.get(inode);
        if (first === undefined) {
          firstName.set(inode, name);
          entries.push({ kind: 'file', name, meta: inode.meta, node: inode });
        } else links.push({ kind: 'link', name, meta: inode.meta, first });
        return;
      }
      default:
        reject(name, `${inode.what}, not a file, directory or symlink`);
    }
  };
  for (const [release, node] of [...top.node.children].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (node.children === undefined) continue;
    releases.push(release);
    walk(release, node);
  }
  if (releases.length === 0) return undefined;
  return { releases, entries: [...entries, ...links] };
}

function header(e: ModuleEntry, extra: Pick<Header, 'type'> & Partial<Header>): Header {
  return {
    name: e.name,
    size: 0,
    linkname: '',
    uname: '',
    gname: '',
    devmajor: 0,
    devminor: 0,
    mode: e.meta.mode,
    uid: e.meta.uid,
    gid: e.meta.gid,
    mtime: new Date(e.meta.mtime * 1000),
    ...extra,
  };
}

/**
 * Writes a plan's modules as a tar at `dest` (a new file, never over one): directories and
 * symlinks first, each file as `addFile` hands its bytes over, hardlinks last.
 */
export class ModulesTar {
  private readonly pack: Pack = pack();
  private readonly written: Promise<void>;
  /** Files by where their bytes are: `<layer>:<entry>`. */
  private readonly files = new Map<string, ModuleEntry>();

  constructor(
    private readonly plan: ModulesPlan,
    dest: string,
  ) {
    this.written = pipeline(this.pack, createWriteStream(dest, { flags: 'wx', mode: 0o600 }));
    this.written.catch(() => undefined);
    for (const e of plan.entries) {
      if (e.kind === 'file') this.files.set(`${e.node.layer}:${e.node.entry}`, e);
      if (e.kind === 'directory') this.pack.entry(header(e, { type: 'directory' }));
      if (e.kind === 'symlink') this.pack.entry(header(e, { type: 'symlink', linkname: e.target }));
    }
  }

  /** The plan's file whose bytes are entry `entry` of layer `layer`, if any. */
  fileAt(layer: number, entry: number): ModuleEntry | undefined {
    return this.files.get(`${layer}:${entry}`);
  }

  async addFile(e: ModuleEntry, body: Readable): Promise<void> {
    if (e.kind !== 'file') return;
    await new Promise<void>((resolve, reject) => {
      const sink = this.pack.entry(header(e, { type: 'file', size: e.node.size }), (err) =>
        err ? reject(err) : resolve(),
      );
      pipeline(body, sink).catch(reject);
    });
  }

  /** Ends the tar unfinished, when the import fails; the caller removes the file. */
  abort(): void {
    this.pack.destroy();
  }

  async finish(): Promise<void> {
    for (const e of this.plan.entries)
      if (e.kind === 'link') this.pack.entry(header(e, { type: 'link', linkname: e.first }));
    this.pack.finalize();
    await this.written;
  }
}
