import { invalidArgument, notFound } from '../errors.js';
import { LayerTree, type EntryHeader, type TreeNode } from './layer-tree.js';

/**
 * What a name in a kernel image points at. A regular file is kept as where its bytes are (layer
 * and entry number) and its first bytes, so the kernel and initrd can be copied out in a second
 * pass and nothing else of the image is ever written.
 */
export type KernelInode =
  | { kind: 'file'; layer: number; entry: number; size: number; magic: Buffer; meta: EntryMeta }
  | { kind: 'directory'; meta: EntryMeta }
  | { kind: 'symlink'; target: Buffer; meta: EntryMeta }
  | { kind: 'other'; what: string };

/** An entry's mode (permission bits), owner and modification time (seconds), from its header. */
export interface EntryMeta {
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
}

/** What a tar header may say of an entry's owner, mode and time. */
export interface MetaHeader {
  mode?: number | undefined;
  uid?: number | undefined;
  gid?: number | undefined;
  mtime?: Date | undefined;
}

/** A directory that no entry declared (a parent an entry implies): 0755, root's. */
const IMPLIED_DIR: EntryMeta = Object.freeze({ mode: 0o755, uid: 0, gid: 0, mtime: 0 });

function metaOf(h: MetaHeader, mode: number): EntryMeta {
  return {
    mode: (h.mode ?? mode) & 0o7777,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    mtime: Math.max(0, Math.floor((h.mtime?.getTime() ?? 0) / 1000)),
  };
}

export type KernelFile = Extract<KernelInode, { kind: 'file' }>;
export type KernelTree = LayerTree<KernelInode>;

export function newKernelTree(): KernelTree {
  return new LayerTree<KernelInode>(() => ({ kind: 'directory', meta: IMPLIED_DIR }));
}

const OTHER_KINDS: Record<string, string> = {
  fifo: 'a FIFO',
  'character-device': 'a character device',
  'block-device': 'a block device',
};

/**
 * Applies one tar entry (`entry` is its number in layer `layer`) to the tree. `magic` is a
 * regular file's first bytes.
 */
export function addKernelEntry(
  tree: KernelTree,
  h: EntryHeader & MetaHeader & { size?: number | undefined },
  where: { layer: number; entry: number; magic: Buffer },
): void {
  if (tree.applyWhiteout(h)) return;
  switch (h.type) {
    case 'file':
    case 'contiguous-file':
      tree.put(h, () => ({ kind: 'file', ...where, size: h.size ?? 0, meta: metaOf(h, 0o644) }));
      return;
    case 'link': {
      const target = tree.linkTarget(h);
      tree.put(h, () => target);
      return;
    }
    case 'directory':
      tree.put(h, () => ({ kind: 'directory', meta: metaOf(h, 0o755) }));
      return;
    case 'symlink':
      tree.put(h, () => ({
        kind: 'symlink',
        target: Buffer.from(h.linkname, 'utf8'),
        meta: metaOf(h, 0o777),
      }));
      return;
    default:
      tree.put(h, () => ({ kind: 'other', what: OTHER_KINDS[h.type] ?? `a ${h.type} entry` }));
  }
}

/** What the image's tree offers as kernel and initrd, by the rules below. */
export interface KernelChoice {
  kernel: { name: string; node: KernelFile; kind: 'elf' | 'bzImage' };
  initrd?: { name: string; node: KernelFile };
}

const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

function describe(inode: KernelInode): string {
  if (inode.kind === 'directory') return 'a directory';
  return inode.kind === 'other' ? inode.what : 'not a file';
}

const fileOf = (n: TreeNode<KernelInode>): KernelFile | undefined =>
  n.inode.kind === 'file' ? n.inode : undefined;

/**
 * Picks the kernel: `/boot/vmlinux`, else the first `/boot/vmlinux*`, that is an ELF; else the
 * first `/boot/vmlinuz*` or `/boot/bzImage*`. The initrd is the first `/boot/initrd*` or
 * `/boot/initramfs*` that is a regular file. Symlinks are followed inside the image only.
 */
export function chooseKernelFiles(tree: KernelTree, label: string): KernelChoice {
  const boot = tree.resolve('boot');
  const names = boot.ok && boot.node.children ? tree.list(boot.path) : [];
  const dangling: string[] = [];
  const lookup = (n: string) => {
    const r = tree.resolve(`boot/${n}`);
    if (!r.ok) {
      const link = boot.ok ? tree.get(`${boot.path}/${n}`)?.inode : undefined;
      if (link?.kind === 'symlink')
        dangling.push(
          `/boot/${n} is a symlink to "${link.target.toString()}", which the image lacks`,
        );
      return undefined;
    }
    const file = fileOf(r.node);
    if (!file)
      throw invalidArgument(
        `${label}: /boot/${n} is ${describe(r.node.inode)}, not a regular file; the kernel is rejected`,
      );
    return { name: r.path, node: file };
  };
  let kernel: KernelChoice['kernel'] | undefined;
  for (const n of ['vmlinux', ...names.filter((n) => n.startsWith('vmlinux'))]) {
    const f = lookup(n);
    if (f && f.node.magic.equals(ELF)) {
      kernel = { ...f, kind: 'elf' };
      break;
    }
  }
  if (!kernel) {
    for (const n of names.filter((n) => n.startsWith('vmlinuz') || n.startsWith('bzImage'))) {
      const f = lookup(n);
      if (f) {
        kernel = { ...f, kind: 'bzImage' };
        break;
      }
    }
  }
  if (!kernel)
    throw notFound(
      `${label}: no /boot/vmlinux or /boot/vmlinuz in the image${dangling.length > 0 ? ` (${[...new Set(dangling)].join('; ')})` : ''}`,
    );
  for (const n of names.filter((n) => n.startsWith('initrd') || n.startsWith('initramfs'))) {
    const r = tree.resolve(`boot/${n}`);
    const file = r.ok ? fileOf(r.node) : undefined;
    if (r.ok && file) return { kernel, initrd: { name: r.path, node: file } };
  }
  return { kernel };
}
