import { LayerTree, type TreeNode } from '../layer-tree.js';
import type { Extent } from './layout.js';
import type { TarHeader } from './tar-reader.js';

export type InodeKind =
  'file' | 'directory' | 'symlink' | 'character-device' | 'block-device' | 'fifo';

/** An inode as the image will have it; hardlinked names share one. */
export interface Inode {
  kind: InodeKind;
  /** Permission bits with set-id and sticky bits (no type bits). */
  perm: number;
  uid: number;
  gid: number;
  mtime: number;
  mtimeNsec: number;
  size: number;
  /** Where a file's data (or a long symlink's target) is in the image. */
  extents: Extent[];
  target?: Buffer;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

/** The layers' merged tree as the ext4 writer keeps it: names to inodes. */
export type Ext4Tree = LayerTree<Inode, TarHeader>;
export type Node = TreeNode<Inode>;

export function newInode(kind: InodeKind, h?: Partial<TarHeader>): Inode {
  return {
    kind,
    perm: (h?.mode ?? (kind === 'directory' ? 0o755 : 0o644)) & 0o7777,
    uid: h?.uid ?? 0,
    gid: h?.gid ?? 0,
    mtime: h?.mtime ?? 0,
    mtimeNsec: h?.mtimeNsec ?? 0,
    size: 0,
    extents: [],
    devmajor: h?.devmajor ?? 0,
    devminor: h?.devminor ?? 0,
    xattrs: h?.xattrs ?? new Map<string, Buffer>(),
  };
}

/**
 * An empty tree. A directory no entry declared is root's, 0755, with the time of the entry whose
 * path implies it.
 */
export function newExt4Tree(): Ext4Tree {
  return new LayerTree<Inode, TarHeader>((by) =>
    newInode('directory', by ? { mtime: by.mtime, mtimeNsec: by.mtimeNsec } : undefined),
  );
}
