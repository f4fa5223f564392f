import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { invalidArgument } from '../../errors.js';
import type { ImportLimits } from '../import-limits.js';
import type { LayerLabel } from '../layer-stream.js';
import { writeFilesystem, type WrittenFilesystem } from './finalize.js';
import { BlockFile } from './block-file.js';
import {
  BLOCK,
  BLOCKS_PER_GROUP,
  BlockAllocator,
  DESCS_PER_BLOCK,
  Geometry,
  INODES_PER_GROUP,
} from './layout.js';
import { newExt4Tree, newInode } from './inode.js';
import { TarError, readTar, type TarHeader } from './tar-reader.js';

export interface Ext4WriterOptions {
  /** The image file to create; it must not exist. */
  path: string;
  /** Volume label (at most 16 bytes are kept). */
  volumeLabel: string;
  limits: ImportLimits;
}

/** Descriptor blocks for the largest filesystem the limits allow, and then some for resize2fs. */
function gdtBlocksFor(limits: ImportLimits): number {
  const dataBlocks = limits.maxBytes / BLOCK + 2 * limits.maxEntries;
  const groups =
    Math.ceil((dataBlocks * 1.25) / BLOCKS_PER_GROUP) +
    Math.ceil(limits.maxEntries / INODES_PER_GROUP) +
    8;
  // At least 8 blocks (1024 groups, 128 GiB): a VM's disk grows without moving any data.
  return Math.max(8, Math.ceil(groups / DESCS_PER_BLOCK));
}

/**
 * Builds an ext4 image straight from layer tar streams, with no directory tree on the host: file
 * data goes into the image as it streams in, everything else is kept in memory and written by
 * `finish`. Owners, modes, devices, FIFOs, links, times and xattrs come from the tar headers, so
 * an import needs no privileges and makes the same image whoever runs it.
 */
export class Ext4Writer {
  private readonly tree = newExt4Tree();
  private readonly geo: Geometry;
  private readonly alloc: BlockAllocator;
  private readonly file: BlockFile;
  private bytes = 0;
  private entries = 0;
  private closed = false;

  constructor(private readonly opts: Ext4WriterOptions) {
    this.geo = new Geometry(gdtBlocksFor(opts.limits));
    this.alloc = new BlockAllocator(this.geo);
    this.file = new BlockFile(opts.path);
  }

  /** Applies one layer's tar stream (decompressed), in order. Throws on an unsafe or broken entry. */
  async addLayer(tar: AsyncIterable<Buffer>, label: LayerLabel): Promise<void> {
    this.tree.beginLayer(label);
    try {
      for await (const { header, body } of readTar(tar)) {
        await this.entry(header, body, label);
      }
    } catch (err) {
      if (err instanceof TarError)
        throw invalidArgument(
          `${label.label}: layer ${label.digest}: not a valid tar archive: ${err.message}`,
          { cause: err },
        );
      throw err;
    }
  }

  private async entry(
    h: TarHeader,
    body: () => AsyncGenerator<Buffer>,
    label: LayerLabel,
  ): Promise<void> {
    const { maxEntries, maxBytes } = this.opts.limits;
    if (++this.entries > maxEntries)
      throw invalidArgument(
        `${label.label}: layer ${label.digest}: the image has more than ${maxEntries} entries (the import entry limit); the image is rejected`,
      );
    if (this.tree.applyWhiteout(h)) return;
    switch (h.type) {
      case 'file': {
        this.bytes += h.size;
        if (this.bytes > maxBytes)
          throw invalidArgument(
            `${label.label}: layer ${label.digest}: entry "${h.name}": the image unpacks to more than ${maxBytes} bytes (the import size limit); the image is rejected`,
          );
        const inode = newInode('file', h);
        this.tree.put(h, () => inode);
        inode.size = h.size;
        inode.extents = this.alloc.alloc(Math.ceil(h.size / BLOCK));
        let off = 0;
        for await (const chunk of body()) {
          this.file.writeFileData(inode.extents, off, chunk);
          off += chunk.length;
        }
        return;
      }
      case 'link': {
        const target = this.tree.linkTarget(h);
        this.tree.put(h, () => target);
        return;
      }
      case 'symlink': {
        const target = Buffer.from(h.linkname, 'utf8');
        if (target.length === 0 || target.length >= BLOCK)
          throw invalidArgument(
            `${label.label}: layer ${label.digest}: symlink "${h.name}" has an empty or too long target; the layer is rejected`,
          );
        const inode = newInode('symlink', h);
        this.tree.put(h, () => inode);
        inode.size = target.length;
        inode.target = target;
        // Targets of 60 bytes or more live in a block of their own ("slow" symlinks).
        if (target.length >= 60) {
          inode.extents = this.alloc.alloc(1);
          this.file.writeFileData(inode.extents, 0, target);
        }
        return;
      }
      case 'directory':
      case 'character-device':
      case 'block-device':
      case 'fifo': {
        const kind = h.type;
        this.tree.put(h, () => newInode(kind, h));
        return;
      }
      default:
        // Sockets and unknown types have no place in an image; their names are still checked.
        return;
    }
  }

  /** Writes the metadata and closes the image. Returns what the image holds. */
  finish(): WrittenFilesystem {
    try {
      return writeFilesystem({
        tree: this.tree,
        file: this.file,
        alloc: this.alloc,
        geo: this.geo,
        volumeLabel: this.opts.volumeLabel,
        uuid: randomBytes(16),
        hashSeed: randomBytes(16),
        now: Math.floor(Date.now() / 1000),
      });
    } finally {
      this.close();
    }
  }

  /** Closes and removes the image file: nothing partial stays. */
  abort(): void {
    this.close();
    rmSync(this.opts.path, { force: true });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file.close();
  }
}
