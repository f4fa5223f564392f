import { closeSync, ftruncateSync, openSync, writeSync, constants } from 'node:fs';
import { BLOCK, type Extent } from './layout.js';

const BATCH = 4 << 20;

/**
 * The image file, written by block number. Writes that follow each other on disk are gathered into
 * large ones: the allocator hands out blocks in order, so file after file lands back to back.
 */
export class BlockFile {
  private readonly fd: number;
  private readonly pending = Buffer.alloc(BATCH);
  private pendingAt = 0;
  private pendingLen = 0;

  constructor(path: string) {
    // O_EXCL and O_NOFOLLOW: a fresh file of our own, so every block not written reads as zeros.
    this.fd = openSync(
      path,
      constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
  }

  /** Writes `data` at byte `pos`. */
  write(pos: number, data: Buffer): void {
    if (this.pendingLen > 0 && pos === this.pendingAt + this.pendingLen) {
      if (this.pendingLen + data.length <= BATCH) {
        data.copy(this.pending, this.pendingLen);
        this.pendingLen += data.length;
        return;
      }
    } else if (
      this.pendingLen > 0 &&
      pos > this.pendingAt + this.pendingLen &&
      pos - (this.pendingAt + this.pendingLen) < BLOCK &&
      pos - this.pendingAt + data.length <= BATCH
    ) {
      // The tail of the previous file's last block: zeros keep the run going.
      const gap = pos - (this.pendingAt + this.pendingLen);
      this.pending.fill(0, this.pendingLen, this.pendingLen + gap);
      data.copy(this.pending, this.pendingLen + gap);
      this.pendingLen += gap + data.length;
      return;
    }
    this.flush();
    if (data.length >= BATCH) {
      writeAll(this.fd, data, pos);
      return;
    }
    data.copy(this.pending, 0);
    this.pendingAt = pos;
    this.pendingLen = data.length;
  }

  /** Writes `data` into a file's extents from byte `offset` of the file. */
  writeFileData(extents: Extent[], offset: number, data: Buffer): void {
    let done = 0;
    for (const e of extents) {
      const from = e.logical * BLOCK;
      const to = from + e.len * BLOCK;
      if (offset + done >= to) continue;
      const at = offset + done - from;
      const n = Math.min(data.length - done, to - from - at);
      this.write(e.start * BLOCK + at, data.subarray(done, done + n));
      done += n;
      if (done === data.length) return;
    }
    if (done < data.length) throw new Error('file data beyond its blocks');
  }

  flush(): void {
    if (this.pendingLen === 0) return;
    writeAll(this.fd, this.pending.subarray(0, this.pendingLen), this.pendingAt);
    this.pendingLen = 0;
  }

  /** Sets the file's length; the blocks never written stay holes. */
  finish(bytes: number): void {
    this.flush();
    ftruncateSync(this.fd, bytes);
  }

  close(): void {
    closeSync(this.fd);
  }
}

function writeAll(fd: number, data: Buffer, pos: number): void {
  for (let off = 0; off < data.length;)
    off += writeSync(fd, data, off, data.length - off, pos + off);
}
