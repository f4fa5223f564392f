import type { BlockFile } from './block-file.js';
import { dirBlocks, extentTree, journalSuperblock, leafCount } from './format.js';
import { BLOCK, type BlockAllocator, type Geometry } from './layout.js';
import { writeBlockGroups } from './block-groups.js';
import { FIRST_INO, JOURNAL_INO, numberInodes } from './inode-table.js';
import { newInode, type Ext4Tree } from './inode.js';
import { encodeXattrs } from './xattr.js';

export interface WrittenFilesystem {
  /** Bytes of the data blocks the image's files, directories and symlinks use. */
  contentBytes: number;
  inodes: number;
  blocks: number;
}

export interface FinalizeInput {
  tree: Ext4Tree;
  file: BlockFile;
  alloc: BlockAllocator;
  geo: Geometry;
  volumeLabel: string;
  uuid: Buffer;
  hashSeed: Buffer;
  now: number;
}

/** mkfs.ext4's journal size for a filesystem of `blocks` 4 KiB blocks. */
function journalBlocks(blocks: number): number {
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  return 16384;
}

/**
 * Writes what the layers left in memory: directories, xattr blocks and extent trees, then the
 * journal, and then the block groups with their bitmaps, inode tables, descriptors and superblocks.
 */
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
  const table = numberInodes(tree.root);

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

  const blocks = writeBlockGroups({
    file,
    geo,
    table,
    allocEnd: alloc.end,
    journal: { iBlock: jTree.iBlock, size: journal.size },
    volumeLabel: x.volumeLabel,
    uuid: x.uuid,
    hashSeed: x.hashSeed,
    now: x.now,
  });
  file.finish(blocks * BLOCK);
  return { contentBytes: contentBlocks * BLOCK, inodes: table.length - 1 - FIRST_INO + 2, blocks };
}
