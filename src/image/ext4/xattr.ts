import { BLOCK, INODE_SIZE } from './layout.js';
import { EXTRA_ISIZE } from './format.js';

/** Name prefixes ext4 stores as an index (the kernel's xattr handlers); others cannot be stored. */
const PREFIXES: [string, number][] = [
  ['system.posix_acl_access', 2],
  ['system.posix_acl_default', 3],
  ['user.', 1],
  ['trusted.', 4],
  ['security.', 6],
  ['system.', 7],
];

const MAGIC = 0xea020000;

interface Attr {
  index: number;
  name: Buffer;
  value: Buffer;
}

/** Splits an xattr name into ext4's prefix index and suffix; undefined for one ext4 cannot hold. */
export function encodeName(name: string): { index: number; suffix: string } | undefined {
  for (const [prefix, index] of PREFIXES) {
    if (name === prefix && (index === 2 || index === 3)) return { index, suffix: '' };
    if (prefix.endsWith('.') && name.startsWith(prefix) && name.length > prefix.length)
      return { index, suffix: name.slice(prefix.length) };
  }
  return undefined;
}

/**
 * POSIX ACLs arrive in the xattr API's format (version 2, 8 bytes per entry); ext4 keeps its own
 * (version 1, 4 bytes for entries without an id).
 */
export function aclToDisk(value: Buffer): Buffer | undefined {
  if (value.length < 4 || (value.length - 4) % 8 !== 0 || value.readUInt32LE(0) !== 2)
    return undefined;
  const out: Buffer[] = [Buffer.from([1, 0, 0, 0])];
  for (let off = 4; off < value.length; off += 8) {
    const tag = value.readUInt16LE(off);
    const perm = value.readUInt16LE(off + 2);
    const withId = tag === 0x02 || tag === 0x08; // ACL_USER, ACL_GROUP
    const e = Buffer.alloc(withId ? 8 : 4);
    e.writeUInt16LE(tag, 0);
    e.writeUInt16LE(perm, 2);
    if (withId) e.writeUInt32LE(value.readUInt32LE(off + 4), 4);
    out.push(e);
  }
  return Buffer.concat(out);
}

function toAttrs(xattrs: Map<string, Buffer>): Attr[] {
  const out: Attr[] = [];
  for (const [name, raw] of xattrs) {
    const enc = encodeName(name);
    if (!enc) continue;
    const value = enc.index === 2 || enc.index === 3 ? aclToDisk(raw) : raw;
    if (!value) continue;
    out.push({ index: enc.index, name: Buffer.from(enc.suffix, 'utf8'), value });
  }
  return out.sort(
    (a, b) => a.index - b.index || a.name.length - b.name.length || Buffer.compare(a.name, b.name),
  );
}

const pad4 = (n: number) => (n + 3) & ~3;
const entrySize = (a: Attr) => pad4(16 + a.name.length);

/** The hash ext4 keeps for each attribute in an xattr block. */
export function entryHash(a: { name: Buffer; value: Buffer }): number {
  let h = 0;
  for (const c of a.name) h = ((h << 5) ^ (h >>> 27) ^ c) >>> 0;
  const v = Buffer.alloc(pad4(a.value.length));
  a.value.copy(v);
  for (let off = 0; off < v.length; off += 4)
    h = ((h << 16) ^ (h >>> 16) ^ v.readUInt32LE(off)) >>> 0;
  return h;
}

/**
 * Lays out entries then values: entries from `entriesAt`, values packed down from `end`, value
 * offsets counted from `base`. Returns false when they do not fit.
 */
function layout(
  buf: Buffer,
  attrs: Attr[],
  entriesAt: number,
  end: number,
  base: number,
  hash: boolean,
): boolean {
  let e = entriesAt;
  let v = end;
  for (const a of attrs) {
    v -= pad4(a.value.length);
    if (e + entrySize(a) + 4 > v) return false;
    buf.writeUInt8(a.name.length, e);
    buf.writeUInt8(a.index, e + 1);
    buf.writeUInt16LE(a.value.length === 0 ? 0 : v - base, e + 2);
    buf.writeUInt32LE(0, e + 4);
    buf.writeUInt32LE(a.value.length, e + 8);
    buf.writeUInt32LE(hash ? entryHash(a) : 0, e + 12);
    a.name.copy(buf, e + 16);
    a.value.copy(buf, v);
    e += entrySize(a);
  }
  return true;
}

/** The space after an inode's extra fields: a 4-byte magic, then entries and values. */
const INLINE_SPACE = INODE_SIZE - 128 - EXTRA_ISIZE;

/**
 * Encodes an inode's xattrs: in the inode when they fit, else in one block of their own. Names ext4
 * has no prefix for are left out (the kernel could not read them either).
 */
export function encodeXattrs(xattrs: Map<string, Buffer>): { inline: Buffer; block?: Buffer } {
  const attrs = toAttrs(xattrs);
  if (attrs.length === 0) return { inline: Buffer.alloc(0) };
  const inline = Buffer.alloc(INLINE_SPACE);
  inline.writeUInt32LE(MAGIC, 0);
  if (layout(inline, attrs, 4, INLINE_SPACE, 4, false)) return { inline };
  const block = Buffer.alloc(BLOCK);
  block.writeUInt32LE(MAGIC, 0);
  block.writeUInt32LE(1, 4); // references
  block.writeUInt32LE(1, 8); // blocks
  if (!layout(block, attrs, 32, BLOCK, 0, true)) return { inline: Buffer.alloc(0) };
  let h = 0;
  for (const a of attrs) h = ((h << 16) ^ (h >>> 16) ^ entryHash(a)) >>> 0;
  block.writeUInt32LE(h, 16);
  return { inline: Buffer.alloc(0), block };
}
