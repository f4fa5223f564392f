import { closeSync, fstatSync, openSync, renameSync, writeSync, constants } from 'node:fs';

/** The console log's default cap: past it, the log is rotated to `<path>.1`. */
export const DEFAULT_CONSOLE_LOG_MAX_BYTES = 10 * 1024 * 1024;

/**
 * An append-only log of at most `maxBytes`, with one older generation at `<path>.1`: when a
 * write would take the log past the cap, the log becomes `<path>.1` (replacing the one before)
 * and a new log is started. So the two together hold at most twice the cap, and always the
 * most recent output. Writes are synchronous: a console prints little, and a write that
 * returns has reached the file, so nothing is queued in memory.
 */
export class RotatingLog {
  private fd: number;
  private size: number;

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
  ) {
    this.maxBytes = Math.max(1, Math.floor(maxBytes));
    this.fd = RotatingLog.open(path);
    this.size = fstatSync(this.fd).size;
  }

  private static open(path: string): number {
    return openSync(
      path,
      constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW,
      0o600,
    );
  }

  write(data: Buffer): void {
    let rest = data;
    while (rest.length > 0) {
      if (this.size >= this.maxBytes) this.rotate();
      const room = this.maxBytes - this.size;
      const part = rest.subarray(0, room);
      let off = 0;
      while (off < part.length) off += writeSync(this.fd, part, off);
      this.size += part.length;
      rest = rest.subarray(part.length);
    }
  }

  private rotate(): void {
    closeSync(this.fd);
    renameSync(this.path, `${this.path}.1`);
    this.fd = RotatingLog.open(this.path);
    this.size = 0;
  }

  close(): void {
    closeSync(this.fd);
  }
}
