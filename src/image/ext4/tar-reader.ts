/**
 * A streaming reader of tar (ustar, GNU long names, PAX). It keeps PAX values as bytes: extended
 * attributes such as `security.capability` are binary, and decoding them as text would corrupt them.
 */
export type EntryType =
  | 'file'
  | 'link'
  | 'symlink'
  | 'character-device'
  | 'block-device'
  | 'directory'
  | 'fifo'
  | 'other';

export interface TarHeader {
  name: string;
  type: EntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since 1970, with nanoseconds from a PAX mtime. */
  mtime: number;
  mtimeNsec: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** From PAX `SCHILY.xattr.<name>` records. */
  xattrs: Map<string, Buffer>;
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'character-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
};

/** Pulls exact byte counts out of a stream of chunks. */
class Bytes {
  private buf: Buffer = Buffer.alloc(0);
  private readonly it: AsyncIterator<Buffer>;

  constructor(source: AsyncIterable<Buffer>) {
    this.it = source[Symbol.asyncIterator]();
  }

  private async more(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done === true) return false;
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }

  /** Exactly `n` bytes, or undefined at the end of the stream. Copies only what straddles chunks. */
  async read(n: number): Promise<Buffer | undefined> {
    if (this.buf.length < n) {
      const parts: Buffer[] = [this.buf];
      let have = this.buf.length;
      while (have < n) {
        const r = await this.it.next();
        if (r.done === true) return undefined;
        parts.push(r.value);
        have += r.value.length;
      }
      const last = parts.pop() ?? Buffer.alloc(0);
      const need = last.length - (have - n);
      parts.push(last.subarray(0, need));
      this.buf = last.subarray(need);
      return Buffer.concat(parts);
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }

  /** `n` bytes as they arrive, without copying. */
  async *take(n: number): AsyncGenerator<Buffer> {
    while (n > 0) {
      if (this.buf.length === 0 && !(await this.more()))
        throw new TarError('the archive ends inside an entry');
      const part = this.buf.subarray(0, Math.min(n, this.buf.length));
      this.buf = this.buf.subarray(part.length);
      n -= part.length;
      yield part;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.take(n)) void _;
  }

  /** Reads to the end, so the stream's producers (a digest check among them) finish. */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while ((await this.it.next()).done !== true);
  }
}

/** A malformed archive; the caller names the layer. */
export class TarError extends Error {}

function str(b: Buffer, off: number, len: number): string {
  const s = b.subarray(off, off + len);
  const end = s.indexOf(0);
  return s.subarray(0, end === -1 ? len : end).toString('utf8');
}

function num(b: Buffer, off: number, len: number): number {
  const f = b.subarray(off, off + len);
  if (((f[0] ?? 0) & 0x80) !== 0) {
    // GNU base-256, for values that do not fit in octal.
    let v = (f[0] ?? 0) & 0x7f;
    for (let i = 1; i < f.length; i++) v = v * 256 + (f[i] ?? 0);
    return v;
  }
  const text = f
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarError(`bad number "${text}" in a header`);
  return parseInt(text, 8);
}

function checksumOk(h: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
  return sum === num(h, 148, 8);
}

/** PAX records: `<len> <key>=<value>\n`, values kept as bytes. */
export function parsePax(b: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let off = 0;
  while (off < b.length) {
    const sp = b.indexOf(0x20, off);
    if (sp === -1) break;
    const len = Number(b.subarray(off, sp).toString('latin1'));
    if (!Number.isSafeInteger(len) || len <= 0 || off + len > b.length)
      throw new TarError('bad PAX record');
    const rec = b.subarray(sp + 1, off + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq !== -1) out.set(rec.subarray(0, eq).toString('utf8'), rec.subarray(eq + 1));
    off += len;
  }
  return out;
}

const XATTR = 'SCHILY.xattr.';
const MAX_META = 1 << 20;

/** The entries of a tar stream. The caller must consume or skip each body before the next entry. */
export async function* readTar(
  source: AsyncIterable<Buffer>,
): AsyncGenerator<{ header: TarHeader; body: () => AsyncGenerator<Buffer> }> {
  const bytes = new Bytes(source);
  let global = new Map<string, Buffer>();
  let pax = new Map<string, Buffer>();
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const h = await bytes.read(512);
    if (h === undefined || h.every((x) => x === 0)) break;
    if (!checksumOk(h)) throw new TarError('a header has a bad checksum (not a tar archive?)');
    const flag = String.fromCharCode(h[156] ?? 0);
    const size = num(h, 124, 12);
    const padded = Math.ceil(size / 512) * 512;
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      if (size > MAX_META) throw new TarError('a metadata entry is too large');
      const data = (await bytes.read(padded)) ?? Buffer.alloc(0);
      if (data.length < padded) throw new TarError('the archive ends inside an entry');
      const body = data.subarray(0, size);
      if (flag === 'x') pax = new Map([...pax, ...parsePax(body)]);
      else if (flag === 'g') global = new Map([...global, ...parsePax(body)]);
      else if (flag === 'L') longName = str(body, 0, body.length);
      else longLink = str(body, 0, body.length);
      continue;
    }
    const rec = new Map([...global, ...pax]);
    const magic = h.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? str(h, 345, 155) : '';
    let name = longName ?? (prefix !== '' ? `${prefix}/${str(h, 0, 100)}` : str(h, 0, 100));
    let linkname = longLink ?? str(h, 157, 100);
    const text = (k: string) => rec.get(k)?.toString('utf8');
    name = text('path') ?? name;
    linkname = text('linkpath') ?? linkname;
    const paxSize = text('size');
    const realSize = paxSize !== undefined ? Number(paxSize) : size;
    if (!Number.isSafeInteger(realSize) || realSize < 0) throw new TarError('bad entry size');
    const xattrs = new Map<string, Buffer>();
    for (const [k, v] of rec) if (k.startsWith(XATTR)) xattrs.set(k.slice(XATTR.length), v);
    const mt = text('mtime');
    let mtime = num(h, 136, 12);
    let mtimeNsec = 0;
    if (mt !== undefined && /^-?\d+(\.\d+)?$/.test(mt)) {
      const [s, frac = ''] = mt.split('.');
      mtime = Number(s);
      mtimeNsec = Number(frac.padEnd(9, '0').slice(0, 9));
    }
    const header: TarHeader = {
      name,
      type: TYPES[flag] ?? 'other',
      mode: num(h, 100, 8),
      uid: Number(text('uid') ?? num(h, 108, 8)),
      gid: Number(text('gid') ?? num(h, 116, 8)),
      size: realSize,
      mtime,
      mtimeNsec,
      linkname,
      devmajor: num(h, 329, 8),
      devminor: num(h, 337, 8),
      xattrs,
    };
    pax = new Map();
    longName = undefined;
    longLink = undefined;
    // As GNU tar and tar-stream do: data follows any entry with a size but a directory.
    const dataSize = header.type === 'directory' ? 0 : realSize;
    const pad = Math.ceil(dataSize / 512) * 512 - dataSize;
    let consumed = false;
    yield {
      header,
      body: async function* () {
        consumed = true;
        yield* bytes.take(dataSize);
      },
    };
    if (!consumed) await bytes.skip(dataSize);
    await bytes.skip(pad);
  }
  await bytes.drain();
}
