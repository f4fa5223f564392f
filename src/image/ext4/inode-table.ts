import type { BlockFile } from './block-file.js';
import {
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFREG,
  INODE_FLAG_EXTENTS,
  inode as inodeBytes,
  type DirEntry,
} from './format.js';
import { BLOCK, INODES_PER_GROUP, INODE_SIZE, type Geometry } from './layout.js';
import type { Inode, InodeKind, Node } from './inode.js';

/** An inode with its number's worth of on-disk state: links, entries, where its metadata went. */
export interface Numbered {
  inode: Inode;
  links: number;
  entries?: DirEntry[];
  iBlock?: Buffer;
  inline: Buffer;
  xattrBlock: number;
  /** Blocks the inode owns besides its data (extent leaves, xattr block). */
  extra: number[];
}

export const JOURNAL_INO = 8;
export const FIRST_INO = 11;

const MODE: Record<InodeKind, number> = {
  file: S_IFREG,
  directory: S_IFDIR,
  symlink: S_IFLNK,
  'character-device': S_IFCHR,
  'block-device': S_IFBLK,
  fifo: S_IFIFO,
};
const FILE_TYPE: Record<InodeKind, number> = {
  file: 1,
  directory: 2,
  'character-device': 3,
  'block-device': 4,
  fifo: 5,
  symlink: 7,
};

/**
 * Numbers the inodes breadth first (hardlinks share one) and lists each directory's entries.
 * The table is indexed by inode number; the root is 2 and the rest start at FIRST_INO.
 */
export function numberInodes(root: Node): Numbered[] {
  const table: Numbered[] = [];
  const seen = new Map<Inode, number>();
  const put = (inode: Inode, ino: number): Numbered => {
    const n: Numbered = { inode, links: 0, inline: Buffer.alloc(0), xattrBlock: 0, extra: [] };
    table[ino] = n;
    seen.set(inode, ino);
    return n;
  };
  let next = FIRST_INO;
  put(root.inode, 2);
  const queue: [Node, number, number][] = [[root, 2, 2]];
  for (let q = 0; q < queue.length; q++) {
    const [dir, ino, parent] = queue[q] ?? [root, 2, 2];
    const self = table[ino];
    if (!self) continue;
    const dot = (name: string, to: number): DirEntry => ({
      ino: to,
      name: Buffer.from(name),
      fileType: 2,
    });
    self.entries = [dot('.', ino), dot('..', parent)];
    self.links += 1;
    const up = table[parent];
    if (up) up.links += 1;
    for (const [name, child] of dir.children ?? []) {
      let cino = seen.get(child.inode);
      if (cino === undefined) {
        cino = next++;
        put(child.inode, cino);
        if (child.children) queue.push([child, cino, ino]);
      }
      const c = table[cino];
      if (c && !child.children) c.links += 1;
      if (c && child.children) c.links += 1;
      self.entries.push({
        ino: cino,
        name: Buffer.from(name, 'utf8'),
        fileType: FILE_TYPE[child.inode.kind],
      });
    }
  }
  return table;
}

/** Writes group `g`'s inode table and inode bitmap; returns its counts. */
export function writeInodeTable(
  file: BlockFile,
  geo: Geometry,
  table: Numbered[],
  g: number,
): { usedInodes: number; dirs: number; itableUnused: number } {
  const first = g * INODES_PER_GROUP + 1;
  const last = Math.min(table.length - 1, first + INODES_PER_GROUP - 1);
  const bitmap = Buffer.alloc(BLOCK);
  bitmap.fill(0xff, INODES_PER_GROUP / 8);
  let used = 0;
  let dirs = 0;
  let top = 0;
  if (g === 0) {
    // Inodes 1-10 are reserved, in use whether or not they hold anything.
    for (let i = 0; i < FIRST_INO - 1; i++)
      bitmap[i >>> 3] = (bitmap[i >>> 3] ?? 0) | (1 << (i & 7));
    used = FIRST_INO - 1;
    top = FIRST_INO - 1;
  }
  if (last >= first) {
    const inodes = Buffer.alloc((last - first + 1) * INODE_SIZE);
    for (let ino = first; ino <= last; ino++) {
      const n = table[ino];
      if (!n) continue;
      const idx = ino - first;
      if (ino >= FIRST_INO || g !== 0) {
        bitmap[idx >>> 3] = (bitmap[idx >>> 3] ?? 0) | (1 << (idx & 7));
        used++;
      }
      top = Math.max(top, idx + 1);
      if (n.inode.kind === 'directory') dirs++;
      encodeInode(n).copy(inodes, idx * INODE_SIZE);
    }
    file.write(geo.inodeTable(g) * BLOCK, inodes);
  }
  file.write(geo.inodeBitmap(g) * BLOCK, bitmap);
  return { usedInodes: used, dirs, itableUnused: INODES_PER_GROUP - top };
}

function encodeInode(n: Numbered): Buffer {
  const i = n.inode;
  let iBlock = n.iBlock ?? Buffer.alloc(60);
  let flags = n.iBlock ? INODE_FLAG_EXTENTS : 0;
  if (i.kind === 'symlink' && i.extents.length === 0) {
    iBlock = Buffer.alloc(60);
    i.target?.copy(iBlock);
    flags = 0;
  } else if (i.kind === 'character-device' || i.kind === 'block-device') {
    iBlock = Buffer.alloc(60);
    if (i.devmajor < 256 && i.devminor < 256)
      iBlock.writeUInt32LE((i.devmajor << 8) | i.devminor, 0);
    else
      iBlock.writeUInt32LE(
        ((i.devminor & 0xff) | (i.devmajor << 8) | ((i.devminor & ~0xff) << 12)) >>> 0,
        4,
      );
  }
  const blocks = i.extents.reduce((s, e) => s + e.len, 0) + n.extra.length;
  return inodeBytes({
    mode: MODE[i.kind] | i.perm,
    uid: i.uid,
    gid: i.gid,
    size: i.size,
    links: i.kind === 'directory' && n.links >= 65000 ? 1 : n.links,
    sectors: blocks * (BLOCK / 512),
    mtime: i.mtime,
    mtimeNsec: i.mtimeNsec,
    flags,
    iBlock,
    xattrBlock: n.xattrBlock,
    inlineXattrs: n.inline,
  });
}
