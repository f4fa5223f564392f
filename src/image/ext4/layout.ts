/**
 * The geometry of the filesystems the writer makes: 4 KiB blocks, 32768 blocks (128 MiB) per
 * group, 256-byte inodes, no flex_bg. Without flex_bg every group keeps its own bitmaps and inode
 * table at its start, so their places are fixed by the group's number alone: data can be written
 * as it streams in, before the number of groups is known, by skipping each group's metadata.
 */
export const BLOCK = 4096;
export const BLOCKS_PER_GROUP = 8 * BLOCK;
export const INODE_SIZE = 256;
/** One inode per 16 KiB of group, as mkfs.ext4's default ratio; more groups are added if needed. */
export const INODES_PER_GROUP = 8192;
export const ITABLE_BLOCKS = (INODES_PER_GROUP * INODE_SIZE) / BLOCK;
/** Group descriptors are 32 bytes (no 64bit feature): 128 per block, so one block per 16 GiB. */
export const DESC_SIZE = 32;
export const DESCS_PER_BLOCK = BLOCK / DESC_SIZE;
/** Blocks in one extent at most (an initialized extent's length is 15 bits plus one). */
export const MAX_EXTENT = 32768;

export interface Extent {
  /** First block of the file that the extent maps. */
  logical: number;
  start: number;
  len: number;
}

/** Whether group `g` holds a copy of the superblock and descriptors (sparse_super). */
export function hasSuper(g: number): boolean {
  if (g <= 1) return true;
  for (const base of [3, 5, 7]) {
    let p = base;
    while (p < g) p *= base;
    if (p === g) return true;
  }
  return false;
}

/** Where each group's metadata sits, for a given number of blocks kept for descriptors. */
export class Geometry {
  /**
   * @param gdtBlocks blocks after each superblock copy kept for the descriptor table: enough for
   * every group the import limits allow, and the room `resize2fs` needs to grow the disk later.
   */
  constructor(readonly gdtBlocks: number) {}

  groupStart(g: number): number {
    return g * BLOCKS_PER_GROUP;
  }

  blockBitmap(g: number): number {
    return this.groupStart(g) + (hasSuper(g) ? 1 + this.gdtBlocks : 0);
  }

  inodeBitmap(g: number): number {
    return this.blockBitmap(g) + 1;
  }

  inodeTable(g: number): number {
    return this.blockBitmap(g) + 2;
  }

  /** The first block of group `g` that is free for data. */
  firstData(g: number): number {
    return this.inodeTable(g) + ITABLE_BLOCKS;
  }

  /** Blocks at the start of group `g` that hold metadata. */
  overhead(g: number): number {
    return this.firstData(g) - this.groupStart(g);
  }
}

/**
 * Hands out data blocks in order, from a cursor that steps over each group's metadata. Runs are
 * contiguous within a group, so a file gets one extent per group it spans.
 */
export class BlockAllocator {
  private cursor: number;

  constructor(private readonly geo: Geometry) {
    this.cursor = geo.firstData(0);
  }

  /** The first block never handed out. */
  get end(): number {
    return this.cursor;
  }

  /** `n` blocks as extents, numbered from logical block `logical`. */
  alloc(n: number, logical = 0): Extent[] {
    const out: Extent[] = [];
    while (n > 0) {
      const g = Math.floor(this.cursor / BLOCKS_PER_GROUP);
      if (this.cursor < this.geo.firstData(g)) this.cursor = this.geo.firstData(g);
      const groupEnd = this.geo.groupStart(g + 1);
      const take = Math.min(n, groupEnd - this.cursor, MAX_EXTENT);
      out.push({ logical, start: this.cursor, len: take });
      this.cursor += take;
      logical += take;
      n -= take;
      if (this.cursor === groupEnd) this.cursor = this.geo.firstData(g + 1);
    }
    return out;
  }
}
