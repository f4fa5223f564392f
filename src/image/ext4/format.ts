import {
  BLOCK,
  BLOCKS_PER_GROUP,
  DESC_SIZE,
  INODES_PER_GROUP,
  INODE_SIZE,
  type Extent,
} from './layout.js';

/** Feature flags the writer sets; see the kernel's Documentation/filesystems/ext4. */
export const COMPAT_HAS_JOURNAL = 0x4;
export const COMPAT_EXT_ATTR = 0x8;
export const INCOMPAT_FILETYPE = 0x2;
export const INCOMPAT_EXTENTS = 0x40;
export const RO_COMPAT_SPARSE_SUPER = 0x1;
export const RO_COMPAT_LARGE_FILE = 0x2;
/** Group descriptor checksums: lets resize2fs leave new groups' inode tables unwritten. */
export const RO_COMPAT_GDT_CSUM = 0x10;
export const RO_COMPAT_DIR_NLINK = 0x20;
export const RO_COMPAT_EXTRA_ISIZE = 0x40;

export const INODE_FLAG_EXTENTS = 0x80000;
export const BG_INODE_ZEROED = 0x4;
/** Inode size beyond the 128 classic bytes that the writer fills (times' high bits, crtime). */
export const EXTRA_ISIZE = 32;

export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_IFDIR = 0o040000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export interface SuperblockFields {
  blocks: number;
  inodes: number;
  freeBlocks: number;
  freeInodes: number;
  reservedBlocks: number;
  uuid: Buffer;
  hashSeed: Buffer;
  label: string;
  now: number;
  journal?: { inode: number; iBlock: Buffer; size: number };
  groupNr: number;
}

/** The 1024-byte superblock. */
export function superblock(f: SuperblockFields): Buffer {
  const b = Buffer.alloc(1024);
  b.writeUInt32LE(f.inodes, 0);
  b.writeUInt32LE(f.blocks, 4);
  b.writeUInt32LE(f.reservedBlocks, 8);
  b.writeUInt32LE(f.freeBlocks, 12);
  b.writeUInt32LE(f.freeInodes, 16);
  b.writeUInt32LE(0, 20); // first data block: 0 with 4 KiB blocks
  b.writeUInt32LE(2, 24); // log2(block size) - 10
  b.writeUInt32LE(2, 28);
  b.writeUInt32LE(BLOCKS_PER_GROUP, 32);
  b.writeUInt32LE(BLOCKS_PER_GROUP, 36);
  b.writeUInt32LE(INODES_PER_GROUP, 40);
  b.writeUInt32LE(f.now, 48); // last write
  b.writeUInt16LE(0xffff, 54); // no mount-count checks
  b.writeUInt16LE(0xef53, 56);
  b.writeUInt16LE(1, 58); // cleanly unmounted
  b.writeUInt16LE(1, 60); // on errors: continue
  b.writeUInt32LE(f.now, 64); // last check
  b.writeUInt32LE(1, 76); // dynamic inode sizes
  b.writeUInt32LE(11, 84); // first non-reserved inode
  b.writeUInt16LE(INODE_SIZE, 88);
  b.writeUInt16LE(f.groupNr, 90);
  b.writeUInt32LE((f.journal ? COMPAT_HAS_JOURNAL : 0) | COMPAT_EXT_ATTR, 92);
  b.writeUInt32LE(INCOMPAT_FILETYPE | INCOMPAT_EXTENTS, 96);
  b.writeUInt32LE(
    RO_COMPAT_SPARSE_SUPER |
      RO_COMPAT_LARGE_FILE |
      RO_COMPAT_GDT_CSUM |
      RO_COMPAT_DIR_NLINK |
      RO_COMPAT_EXTRA_ISIZE,
    100,
  );
  f.uuid.copy(b, 104);
  Buffer.from(f.label, 'utf8').subarray(0, 16).copy(b, 120);
  if (f.journal) {
    b.writeUInt32LE(f.journal.inode, 224);
    // A copy of the journal inode's block map, for e2fsck to repair a damaged journal inode.
    f.journal.iBlock.copy(b, 268);
    b.writeUInt32LE(Math.floor(f.journal.size / 2 ** 32), 268 + 15 * 4);
    b.writeUInt32LE(f.journal.size % 2 ** 32, 268 + 16 * 4);
    b.writeUInt8(1, 253); // that copy is present
  }
  f.hashSeed.copy(b, 236);
  b.writeUInt8(1, 252); // half_md4 directory hashes, should dir_index be turned on later
  b.writeUInt32LE(f.now, 264); // mkfs time
  b.writeUInt16LE(EXTRA_ISIZE, 348);
  b.writeUInt16LE(EXTRA_ISIZE, 350);
  b.writeUInt32LE(0x1, 352); // signed directory hash, as on x86
  return b;
}

export interface GroupDesc {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocks: number;
  freeInodes: number;
  usedDirs: number;
  itableUnused: number;
}

/** One 32-byte group descriptor, with its crc16 over the filesystem UUID and group number. */
export function groupDesc(d: GroupDesc, group: number, uuid: Buffer): Buffer {
  const b = Buffer.alloc(DESC_SIZE);
  b.writeUInt32LE(d.blockBitmap, 0);
  b.writeUInt32LE(d.inodeBitmap, 4);
  b.writeUInt32LE(d.inodeTable, 8);
  b.writeUInt16LE(d.freeBlocks, 12);
  b.writeUInt16LE(d.freeInodes, 14);
  b.writeUInt16LE(d.usedDirs, 16);
  b.writeUInt16LE(BG_INODE_ZEROED, 18);
  b.writeUInt16LE(d.itableUnused, 28);
  const g = Buffer.alloc(4);
  g.writeUInt32LE(group, 0);
  let crc = crc16(0xffff, uuid);
  crc = crc16(crc, g);
  crc = crc16(crc, b.subarray(0, 30));
  b.writeUInt16LE(crc, 30);
  return b;
}

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/** CRC-16 (polynomial 0x8005, reflected), as ext4 uses for group descriptors. */
export function crc16(crc: number, data: Buffer): number {
  for (const byte of data) crc = ((crc >>> 8) ^ (CRC16_TABLE[(crc ^ byte) & 0xff] ?? 0)) & 0xffff;
  return crc;
}

export interface InodeFields {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  links: number;
  /** 512-byte sectors of every block the inode owns (data, extent leaves, xattr block). */
  sectors: number;
  mtime: number;
  mtimeNsec: number;
  flags: number;
  iBlock: Buffer;
  xattrBlock: number;
  /** In-inode extended attributes (after the extra fields), or empty. */
  inlineXattrs: Buffer;
}

/** Seconds since 1970 as ext4 stores them: low 32 bits, and two epoch bits with nanoseconds. */
function splitTime(sec: number, nsec: number): [number, number] {
  const s = Math.trunc(sec);
  const low = ((s % 2 ** 32) + 2 ** 32) % 2 ** 32;
  const epoch = Math.floor((s - (low | 0)) / 2 ** 32) & 3;
  return [low, ((nsec << 2) | epoch) >>> 0];
}

/** One 256-byte inode. */
export function inode(f: InodeFields): Buffer {
  const b = Buffer.alloc(INODE_SIZE);
  const [t, extra] = splitTime(f.mtime, f.mtimeNsec);
  b.writeUInt16LE(f.mode & 0xffff, 0);
  b.writeUInt16LE(f.uid & 0xffff, 2);
  b.writeUInt32LE(f.size % 2 ** 32, 4);
  for (const off of [8, 12, 16]) b.writeUInt32LE(t, off); // atime, ctime, mtime
  b.writeUInt16LE(f.gid & 0xffff, 24);
  b.writeUInt16LE(f.links, 26);
  b.writeUInt32LE(f.sectors % 2 ** 32, 28);
  b.writeUInt32LE(f.flags, 32);
  f.iBlock.copy(b, 40, 0, 60);
  b.writeUInt32LE(f.xattrBlock, 104);
  b.writeUInt32LE(Math.floor(f.size / 2 ** 32), 108);
  b.writeUInt16LE(Math.floor(f.sectors / 2 ** 32), 116);
  b.writeUInt16LE(f.uid >>> 16, 120);
  b.writeUInt16LE(f.gid >>> 16, 122);
  b.writeUInt16LE(EXTRA_ISIZE, 128);
  for (const off of [132, 136, 140, 148]) b.writeUInt32LE(extra, off); // ctime, mtime, atime, crtime
  b.writeUInt32LE(t, 144); // crtime
  f.inlineXattrs.copy(b, 128 + EXTRA_ISIZE);
  return b;
}

const EXTENT_MAGIC = 0xf30a;

function extentHeader(b: Buffer, off: number, entries: number, max: number, depth: number) {
  b.writeUInt16LE(EXTENT_MAGIC, off);
  b.writeUInt16LE(entries, off + 2);
  b.writeUInt16LE(max, off + 4);
  b.writeUInt16LE(depth, off + 6);
}

function extentEntry(b: Buffer, off: number, e: Extent) {
  b.writeUInt32LE(e.logical, off);
  b.writeUInt16LE(e.len, off + 4);
  b.writeUInt16LE(Math.floor(e.start / 2 ** 32), off + 6);
  b.writeUInt32LE(e.start % 2 ** 32, off + 8);
}

/** Extents per leaf block: a 12-byte header, then 12 bytes each. */
export const EXTENTS_PER_LEAF = (BLOCK - 12) / 12;

/**
 * An extent tree: up to four extents in the inode itself; more go in leaf blocks (at `leaves`,
 * one per 340 extents, at most four) that the inode indexes. Returns i_block and the leaves' bytes.
 */
export function extentTree(
  extents: Extent[],
  leaves: number[],
): { iBlock: Buffer; leafData: Buffer[] } {
  const iBlock = Buffer.alloc(60);
  if (extents.length <= 4) {
    extentHeader(iBlock, 0, extents.length, 4, 0);
    extents.forEach((e, i) => extentEntry(iBlock, 12 + i * 12, e));
    return { iBlock, leafData: [] };
  }
  extentHeader(iBlock, 0, leaves.length, 4, 1);
  const leafData: Buffer[] = [];
  leaves.forEach((leaf, i) => {
    const part = extents.slice(i * EXTENTS_PER_LEAF, (i + 1) * EXTENTS_PER_LEAF);
    const b = Buffer.alloc(BLOCK);
    extentHeader(b, 0, part.length, EXTENTS_PER_LEAF, 0);
    part.forEach((e, j) => extentEntry(b, 12 + j * 12, e));
    leafData.push(b);
    const off = 12 + i * 12;
    iBlock.writeUInt32LE(part[0]?.logical ?? 0, off);
    iBlock.writeUInt32LE(leaf % 2 ** 32, off + 4);
    iBlock.writeUInt16LE(Math.floor(leaf / 2 ** 32), off + 8);
  });
  return { iBlock, leafData };
}

/** Leaf blocks an extent list needs (none when it fits in the inode). */
export function leafCount(extents: number): number {
  return extents <= 4 ? 0 : Math.ceil(extents / EXTENTS_PER_LEAF);
}

export interface DirEntry {
  ino: number;
  name: Buffer;
  fileType: number;
}

/** Linear directory blocks: each entry's record is padded to 4 bytes, the last one per block to the block's end. */
export function dirBlocks(entries: DirEntry[]): Buffer {
  const blocks: Buffer[] = [];
  let cur = Buffer.alloc(BLOCK);
  let off = 0;
  let last = -1;
  const close = () => {
    if (last >= 0) cur.writeUInt16LE(BLOCK - last, last + 4);
    blocks.push(cur);
  };
  for (const e of entries) {
    const rec = (8 + e.name.length + 3) & ~3;
    if (off + rec > BLOCK) {
      close();
      cur = Buffer.alloc(BLOCK);
      off = 0;
      last = -1;
    }
    cur.writeUInt32LE(e.ino, off);
    cur.writeUInt16LE(rec, off + 4);
    cur.writeUInt8(e.name.length, off + 6);
    cur.writeUInt8(e.fileType, off + 7);
    e.name.copy(cur, off + 8);
    last = off;
    off += rec;
  }
  close();
  return Buffer.concat(blocks);
}

/** A JBD2 superblock for an empty, clean journal of `blocks` blocks (big-endian, as JBD2 is). */
export function journalSuperblock(blocks: number, uuid: Buffer): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.writeUInt32BE(0xc03b3998, 0);
  b.writeUInt32BE(4, 4); // superblock v2
  b.writeUInt32BE(BLOCK, 12);
  b.writeUInt32BE(blocks, 16);
  b.writeUInt32BE(1, 20); // first log block
  b.writeUInt32BE(1, 24); // sequence
  uuid.copy(b, 48);
  b.writeUInt32BE(1, 64); // users of the journal: this filesystem
  return b;
}
