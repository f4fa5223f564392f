import { internal } from '../../errors.js';
import type { BlockFile } from './block-file.js';
import { groupDesc, superblock } from './format.js';
import {
  BLOCK,
  BLOCKS_PER_GROUP,
  DESCS_PER_BLOCK,
  INODES_PER_GROUP,
  hasSuper,
  type Extent,
  type Geometry,
} from './layout.js';
import { JOURNAL_INO, writeInodeTable, type Numbered } from './inode-table.js';
import type { Inode } from './inode.js';

export interface GroupsInput {
  file: BlockFile;
  geo: Geometry;
  /** Inodes by number, every one placed: its data, extent leaves and xattr block allocated. */
  table: Numbered[];
  /** The first block no allocation reached. */
  allocEnd: number;
  journal: { iBlock: Buffer; size: number };
  volumeLabel: string;
  uuid: Buffer;
  hashSeed: Buffer;
  now: number;
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let c = 0;
  for (let v = i; v; v >>= 1) c += v & 1;
  return c;
});

/**
 * Sizes the filesystem and writes each block group's bitmaps, inode table and descriptor, and the
 * superblock with the descriptor table into every group that keeps a copy. Returns the size in
 * blocks.
 */
export function writeBlockGroups(x: GroupsInput): number {
  const { file, geo, table } = x;
  const maxIno = table.length - 1;
  // Room to spare (the image is sparse, so it costs nothing until used), and groups for every inode.
  let blocks = Math.ceil(x.allocEnd * 1.1) + 16384;
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
    const { usedInodes, dirs, itableUnused } = writeInodeTable(file, geo, table, g);
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
      journal: { inode: JOURNAL_INO, iBlock: x.journal.iBlock, size: x.journal.size },
      groupNr: g,
    });
    file.write(geo.groupStart(g) * BLOCK + (g === 0 ? 1024 : 0), sb);
    file.write((geo.groupStart(g) + 1) * BLOCK, gdt);
  }
  return blocks;
}
