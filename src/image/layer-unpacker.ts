import {
  chmodSync,
  closeSync,
  constants,
  createReadStream,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { invalidArgument } from '../errors.js';
import { run } from '../system/exec.js';

/**
 * Applies OCI/Docker image layers (tar, gzip or zstd) to a root directory, in order, with OCI
 * whiteouts. No entry may reach outside the root: names with `..` or a leading `/`, paths through
 * a symlink, and hardlinks to outside are refused, and the whole layer is rejected.
 */
export interface ApplyLayerOptions {
  /** For messages: `image "…"` and the layer digest. */
  label: string;
  digest: string;
  /** Apply ownership and create device nodes (needs root). */
  privileged: boolean;
}

const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';

/** Detects the compression of a layer from its first bytes. */
export async function detectCompression(file: string): Promise<'gzip' | 'zstd' | 'none'> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(4);
    await fh.read(buf, 0, 4, 0);
    if (buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (buf.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return 'none';
  } finally {
    await fh.close();
  }
}

/** A stream of the layer's tar bytes, decompressed. zstd goes through the zstd CLI (Node 20 has none). */
async function tarStream(file: string): Promise<Readable> {
  const kind = await detectCompression(file);
  // Large chunks: each one is a thread-pool job in zlib, and a read and a write per entry here.
  const read = () => createReadStream(file, { highWaterMark: 1 << 20 });
  if (kind === 'gzip') return read().pipe(createGunzip({ chunkSize: 1 << 18 }));
  if (kind === 'none') return read();
  const child = spawn('zstd', ['-dcq', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.on('error', (err) => child.stdout.destroy(err));
  return child.stdout;
}

/** Checks an entry name and returns it relative to the root (no leading `./`), or throws. */
export function safeName(raw: string, opts: ApplyLayerOptions): string {
  const bad = (why: string) =>
    invalidArgument(
      `${opts.label}: layer ${opts.digest}: entry "${raw}": ${why}; the layer is rejected`,
    );
  if (raw.includes('\0')) throw bad('contains a NUL byte');
  if (raw.startsWith('/')) throw bad('is an absolute path');
  const parts = raw.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw bad('leaves the root through ".."');
  return parts.join('/');
}

interface DirMode {
  path: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date | undefined;
}

/** What applying one layer keeps between its entries. */
interface LayerState {
  /** Paths this layer wrote: an opaque whiteout later in the layer keeps them. */
  written: Set<string>;
  /** Directory modes, applied at the end. */
  dirModes: DirMode[];
  /**
   * Relative directories known to be real directories under the root. Only this import changes
   * the tree, so an entry stays true until something is removed, which clears the set.
   */
  realDirs: Set<string>;
}

/**
 * Applies one layer file to `root`. Throws on the first unsafe or broken entry.
 *
 * Entries are applied with synchronous file system calls: an image has thousands of small files,
 * and a thread-pool round trip per call made unpacking several times slower than the copy itself.
 */
export async function applyLayer(
  root: string,
  layerFile: string,
  opts: ApplyLayerOptions,
): Promise<void> {
  const state: LayerState = { written: new Set(), dirModes: [], realDirs: new Set() };
  const ex = extract();
  const source = await tarStream(layerFile);

  const consume = async () => {
    for await (const entry of ex) {
      try {
        await applyEntry(root, entry.header, entry as unknown as Readable, opts, state);
      } finally {
        entry.resume();
      }
    }
  };
  await Promise.all([
    pipeline(source, ex).catch((err: unknown) => {
      ex.destroy(err as Error);
      throw err;
    }),
    consume(),
  ]);
  // Modes of directories last, so a read-only directory does not stop writes into it.
  for (const d of state.dirModes.reverse()) {
    if (opts.privileged) lchownSync(d.path, d.uid, d.gid);
    chmodSync(d.path, d.mode);
    if (d.mtime) utimesSync(d.path, d.mtime, d.mtime);
  }
}

function remove(path: string, state: LayerState): void {
  rmSync(path, { recursive: true, force: true });
  state.realDirs.clear();
}

async function applyEntry(
  root: string,
  h: Header,
  body: Readable,
  opts: ApplyLayerOptions,
  state: LayerState,
): Promise<void> {
  const name = safeName(h.name, opts);
  if (name === '') {
    if (h.type === 'directory')
      state.dirModes.push({
        path: root,
        mode: (h.mode ?? 0o755) & 0o7777,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        mtime: h.mtime,
      });
    return;
  }
  const parent = posix.dirname(name);
  const dir = parent === '.' ? '' : parent;
  const base = posix.basename(name);
  checkNoSymlinkOnPath(root, dir, h.name, opts, state.realDirs);

  if (base === OPAQUE) {
    // An opaque directory hides everything the lower layers had in it.
    const target = join(root, dir);
    mkdirSync(target, { recursive: true });
    for (const child of readdirSync(target)) {
      const rel = dir === '' ? child : `${dir}/${child}`;
      if (!state.written.has(rel)) remove(join(target, child), state);
    }
    return;
  }
  if (base.startsWith(WHITEOUT)) {
    const victim = base.slice(WHITEOUT.length);
    if (victim === '' || victim === '.' || victim === '..' || victim.includes('/')) {
      throw invalidArgument(
        `${opts.label}: layer ${opts.digest}: whiteout "${h.name}" names no entry; the layer is rejected`,
      );
    }
    remove(join(root, dir, victim), state);
    return;
  }

  const path = join(root, name);
  const mode = (h.mode ?? 0o644) & 0o7777;
  const existing = lstatSync(path, { throwIfNoEntry: false });
  if (existing && !(existing.isDirectory() && h.type === 'directory')) remove(path, state);
  if (dir !== '' && !state.realDirs.has(dir)) {
    // Every existing part of `dir` was just checked to be a real directory; mkdir makes the rest.
    mkdirSync(join(root, dir), { recursive: true });
    state.realDirs.add(dir);
  }
  state.written.add(name);

  switch (h.type) {
    case 'directory':
      if (!existing?.isDirectory()) mkdirSync(path, { mode: 0o700 });
      state.dirModes.push({ path, mode, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime });
      return;
    case 'file':
    case 'contiguous-file':
      await writeFileEntry(path, body, h, mode, opts);
      return;
    case 'symlink':
      symlinkSync(h.linkname ?? '', path);
      if (opts.privileged) lchownSync(path, h.uid ?? 0, h.gid ?? 0);
      if (h.mtime) lutimesSync(path, h.mtime, h.mtime);
      return;
    case 'link': {
      const target = safeName(h.linkname ?? '', { ...opts });
      checkNoSymlinkOnPath(root, posix.dirname(target), h.linkname ?? '', opts, state.realDirs);
      const st = lstatSync(join(root, target), { throwIfNoEntry: false });
      if (!st || st.isDirectory() || st.isSymbolicLink()) {
        throw invalidArgument(
          `${opts.label}: layer ${opts.digest}: hardlink "${h.name}" -> "${h.linkname ?? ''}": the target is not a file in the image; the layer is rejected`,
        );
      }
      linkSync(join(root, target), path);
      return;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo':
      if (!opts.privileged && h.type !== 'fifo') return; // Device nodes need root; a rootless import skips them.
      await run('mknod', [
        '-m',
        mode.toString(8),
        path,
        h.type === 'fifo' ? 'p' : h.type === 'block-device' ? 'b' : 'c',
        ...(h.type === 'fifo' ? [] : [String(h.devmajor ?? 0), String(h.devminor ?? 0)]),
      ]);
      if (opts.privileged) lchownSync(path, h.uid ?? 0, h.gid ?? 0);
      chmodSync(path, mode);
      if (h.mtime) utimesSync(path, h.mtime, h.mtime);
      return;
    default:
      // pax headers are folded in by tar-stream; other types (sockets…) have no place in an image.
      return;
  }
}

/** Writes a regular file's body; O_EXCL and O_NOFOLLOW: never through anything already there. */
async function writeFileEntry(
  path: string,
  body: Readable,
  h: Header,
  mode: number,
  opts: ApplyLayerOptions,
): Promise<void> {
  const fd = openSync(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      for (let off = 0; off < chunk.length;) off += writeSync(fd, chunk, off);
    }
    // Owner before mode: chown clears set-user-ID and set-group-ID bits.
    if (opts.privileged) fchownSync(fd, h.uid ?? 0, h.gid ?? 0);
    fchmodSync(fd, mode);
    if (h.mtime) futimesSync(fd, h.mtime, h.mtime);
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses a path whose parent directories include a symlink: writing through it could land
 * anywhere on the host. Images store files at their real paths, so well-formed layers never need it.
 */
function checkNoSymlinkOnPath(
  root: string,
  relDir: string,
  raw: string,
  opts: ApplyLayerOptions,
  realDirs: Set<string>,
): void {
  if (relDir === '' || relDir === '.' || realDirs.has(relDir)) return;
  let rel = '';
  for (const part of relDir.split('/')) {
    rel = rel === '' ? part : `${rel}/${part}`;
    if (realDirs.has(rel)) continue;
    const st = lstatSync(join(root, rel), { throwIfNoEntry: false });
    if (st === undefined) return;
    if (st.isSymbolicLink()) {
      throw invalidArgument(
        `${opts.label}: layer ${opts.digest}: entry "${raw}" goes through the symlink "${rel}"; the layer is rejected`,
      );
    }
    if (!st.isDirectory()) {
      throw invalidArgument(
        `${opts.label}: layer ${opts.digest}: entry "${raw}" goes through "${rel}", which is not a directory; the layer is rejected`,
      );
    }
    realDirs.add(rel);
  }
}
