import { internal } from '../../errors.js';
import type { BlockFile } from './block-file.js';
import {
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFREG,
  INODE_FLAG_EXTENTS,
  dirBlocks,
  extentTree,
  groupDesc,
  inode as inodeBytes,
  journalSuperblock,
  leafCount,
  superblock,
  type DirEntry,
} from './format.js';
import {
  BLOCK,
  BLOCKS_PER_GROUP,
  DESCS_PER_BLOCK,
  INODES_PER_GROUP,
  INODE_SIZE,
  hasSuper,
  type BlockAllocator,
  type Extent,
  type Geometry,
} from './layout.js';
import { newInode, type Inode, type InodeKind, type LayerTree, type Node } from './tree.js';
import { encodeXattrs } from './xattr.js';

export interface WrittenFilesystem {
  /** Bytes of the data blocks the image's files, directories and symlinks use. */
  contentBytes: number;
  inodes: number;
  blocks: number;
}

interface Numbered {
  inode: Inode;
  links: number;
  entries?: DirEntry[];
  iBlock?: Buffer;
  inline: Buffer;
  xattrBlock: number;
  /** Blocks the inode owns besides its data (extent leaves, xattr block). */
  extra: number[];
}

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
const JOURNAL_INO = 8;
const FIRST_INO = 11;

/** mkfs.ext4's journal size for a filesystem of `blocks` 4 KiB blocks. */
function journalBlocks(blocks: number): number {
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  return 16384;
}

/** Numbers the inodes breadth first (hardlinks share one) and lists each directory's entries. */
function number(root: Node): Numbered[] {
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

export interface FinalizeInput {
  tree: LayerTree;
  file: BlockFile;
  alloc: BlockAllocator;
  geo: Geometry;
  volumeLabel: string;
  uuid: Buffer;
  hashSeed: Buffer;
  now: number;
}

/** Writes directories, inodes, bitmaps, descriptors, the journal and the superblocks. */
export function writeFilesystem(x: FinalizeInput): WrittenFilesystem {
  const { tree, file, alloc, geo } = x;
  if (!tree.root.children?.has('lost+found')) {
    // e2fsck wants one; mode and owner as mkfs makes it.
    const inode = newInode('directory', { mode: 0o700, mtime: x.now });
    tree.root.children?.set('lost+found', {
      inode,
      children: new Map(),
      touched: -1,
      declared: -1,
    });
  }
  const table = number(tree.root);
  const maxIno = table.length - 1;

  let contentBlocks = 0;
  for (const n of table) {
    if (!n) continue;
    const i = n.inode;
    if (n.entries) {
      const data = dirBlocks(n.entries);
      i.size = data.length;
      i.extents = alloc.alloc(data.length / BLOCK);
      file.writeFileData(i.extents, 0, data);
    }
    const xa = encodeXattrs(i.xattrs);
    n.inline = xa.inline;
    if (xa.block) {
      const [e] = alloc.alloc(1);
      n.xattrBlock = e?.start ?? 0;
      n.extra.push(n.xattrBlock);
      file.write(n.xattrBlock * BLOCK, xa.block);
    }
    if (
      i.kind === 'file' ||
      i.kind === 'directory' ||
      (i.kind === 'symlink' && i.extents.length > 0)
    ) {
      const leaves = alloc
        .alloc(leafCount(i.extents.length))
        .flatMap((e) => Array.from({ length: e.len }, (_, k) => e.start + k));
      const t = extentTree(i.extents, leaves);
      t.leafData.forEach((d, k) => file.write((leaves[k] ?? 0) * BLOCK, d));
      n.iBlock = t.iBlock;
      n.extra.push(...leaves);
      contentBlocks += i.extents.reduce((s, e) => s + e.len, 0);
    }
  }

  const jBlocks = journalBlocks(alloc.end);
  const jExtents = alloc.alloc(jBlocks);
  file.write((jExtents[0]?.start ?? 0) * BLOCK, journalSuperblock(jBlocks, x.uuid));
  const journal = newInode('file', { mode: 0o600, mtime: x.now });
  journal.size = jBlocks * BLOCK;
  journal.extents = jExtents;
  const jTree = extentTree(jExtents, []);
  table[JOURNAL_INO] = {
    inode: journal,
    links: 1,
    iBlock: jTree.iBlock,
    inline: Buffer.alloc(0),
    xattrBlock: 0,
    extra: [],
  };

  // Room to spare (the image is sparse, so it costs nothing until used), and groups for every inode.
  let blocks = Math.ceil(alloc.end * 1.1) + 16384;
  let groups = Math.max(Math.ceil(blocks / BLOCKS_PER_GROUP), Math.ceil(maxIno / INODES_PER_GROUP));
  const lastMin = (groups - 1) * BLOCKS_PER_GROUP + geo.overhead(groups - 1) + 256;
  if (blocks < lastMin) blocks = lastMin;
  groups = Math.ceil(blocks / BLOCKS_PER_GROUP);
  if (Math.ceil(groups / DESCS_PER_BLOCK) > geo.gdtBlocks)
    throw internal(
      `ext4 image: ${groups} groups do not fit the ${geo.gdtBlocks} descriptor blocks kept`,
    );

  const used = new Uint8Array(groups * (BLOCKS_PER_GROUP / 8));
  const mark = (b: number, n = 1) => {
    for (let k = b; k < b + n; k++) used[k >>> 3] = (used[k >>> 3] ?? 0) | (1 << (k & 7));
  };
  const markExtents = (es: Extent[]) => es.forEach((e) => mark(e.start, e.len));
  for (let g = 0; g < groups; g++) {
    // The blocks kept for more descriptors stay free: resize2fs takes them when it needs them.
    if (hasSuper(g)) mark(geo.groupStart(g), 1 + Math.ceil(groups / DESCS_PER_BLOCK));
    mark(geo.blockBitmap(g), geo.overhead(g) - (geo.blockBitmap(g) - geo.groupStart(g)));
  }
  const owned = new Set<Inode>();
  for (const n of table) {
    if (!n || owned.has(n.inode)) continue;
    owned.add(n.inode);
    markExtents(n.inode.extents);
    n.extra.forEach((b) => mark(b));
  }
  // Bits past the end of the filesystem are set, as e2fsck expects.
  for (let b = blocks; b < groups * BLOCKS_PER_GROUP; b++) mark(b);

  const descs: Buffer[] = [];
  let freeBlocksAll = 0;
  let freeInodesAll = 0;
  for (let g = 0; g < groups; g++) {
    const bitmap = Buffer.from(used.buffer, used.byteOffset + g * BLOCK, BLOCK);
    let usedBlocks = 0;
    for (const byte of bitmap) usedBlocks += POPCOUNT[byte] ?? 0;
    const inGroup = Math.min(BLOCKS_PER_GROUP, blocks - g * BLOCKS_PER_GROUP);
    const freeBlocks = inGroup - (usedBlocks - (BLOCKS_PER_GROUP - inGroup));
    const { usedInodes, dirs, itableUnused } = writeInodes(x, table, g);
    descs.push(
      groupDesc(
        {
          blockBitmap: geo.blockBitmap(g),
          inodeBitmap: geo.inodeBitmap(g),
          inodeTable: geo.inodeTable(g),
          freeBlocks,
          freeInodes: INODES_PER_GROUP - usedInodes,
          usedDirs: dirs,
          itableUnused,
        },
        g,
        x.uuid,
      ),
    );
    file.write(geo.blockBitmap(g) * BLOCK, Buffer.from(bitmap));
    freeBlocksAll += freeBlocks;
    freeInodesAll += INODES_PER_GROUP - usedInodes;
  }
  const gdt = Buffer.concat(descs);
  for (let g = 0; g < groups; g++) {
    if (!hasSuper(g)) continue;
    const sb = superblock({
      blocks,
      inodes: groups * INODES_PER_GROUP,
      freeBlocks: freeBlocksAll,
      freeInodes: freeInodesAll,
      reservedBlocks: Math.floor(blocks * 0.05),
      uuid: x.uuid,
      hashSeed: x.hashSeed,
      label: x.volumeLabel,
      now: x.now,
      journal: { inode: JOURNAL_INO, iBlock: jTree.iBlock, size: journal.size },
      groupNr: g,
    });
    file.write(geo.groupStart(g) * BLOCK + (g === 0 ? 1024 : 0), sb);
    file.write((geo.groupStart(g) + 1) * BLOCK, gdt);
  }
  file.finish(blocks * BLOCK);
  return { contentBytes: contentBlocks * BLOCK, inodes: maxIno - FIRST_INO + 2, blocks };
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let c = 0;
  for (let v = i; v; v >>= 1) c += v & 1;
  return c;
});

/** Writes group `g`'s inode table and inode bitmap; returns its counts. */
function writeInodes(
  x: FinalizeInput,
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
    x.file.write(x.geo.inodeTable(g) * BLOCK, inodes);
  }
  x.file.write(x.geo.inodeBitmap(g) * BLOCK, bitmap);
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
