import {
  closeSync,
  constants,
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
  writeSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import { extract, type Header } from 'tar-stream';
import { invalidArgument } from '../errors.js';
import { run } from '../system/exec.js';
import { OPAQUE, WHITEOUT, safeName, tarStream, type LayerLabel } from './layer-stream.js';

/**
 * Applies OCI/Docker image layers (tar, gzip or zstd) to a root directory, in order, with OCI
 * whiteouts. No entry may reach outside the root: names with `..` or a leading `/`, paths through
 * a symlink, and hardlinks to outside are refused, and the whole layer is rejected.
 */
export interface ApplyLayerOptions extends LayerLabel {
  /** Apply ownership and create device nodes (needs root). */
  privileged: boolean;
}

/**
 * A directory's mode, owner and times, applied after the layer. It holds the directory open: a
 * later entry may replace the path with a symlink, and applying by name would then change
 * whatever the symlink points at on the host.
 */
interface DirMode {
  fd: number;
  mode: number;
  uid: number;
  gid: number;
  mtime: Date | undefined;
}

/** What applying one layer keeps between its entries. */
interface LayerState {
  /** Paths this layer wrote: an opaque whiteout later in the layer keeps them. */
  written: Set<string>;
  /** Directory modes by relative path ('' is the root), applied at the end. */
  dirModes: Map<string, DirMode>;
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
 * and a thread-pool round trip per call makes unpacking several times slower than the copy itself.
 */
export async function applyLayer(
  root: string,
  layerFile: string,
  opts: ApplyLayerOptions,
): Promise<void> {
  const state: LayerState = { written: new Set(), dirModes: new Map(), realDirs: new Set() };
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
  try {
    await Promise.all([
      pipeline(source, ex).catch((err: unknown) => {
        ex.destroy(err as Error);
        throw err;
      }),
      consume(),
    ]);
    // Modes of directories last, so a read-only directory does not stop writes into it; children
    // before parents. Owner before mode: chown clears set-user-ID and set-group-ID bits.
    for (const d of [...state.dirModes.values()].reverse()) {
      if (opts.privileged) fchownSync(d.fd, d.uid, d.gid);
      fchmodSync(d.fd, d.mode);
      if (d.mtime) futimesSync(d.fd, d.mtime, d.mtime);
    }
  } finally {
    for (const d of state.dirModes.values()) closeSync(d.fd);
  }
}

/** Opens a directory that the layer just made or found, refusing a symlink in its place. */
function openDir(path: string): number {
  return openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
}

/** Queues a directory's metadata; a second entry for the same directory replaces the first. */
function queueDir(state: LayerState, rel: string, path: string, h: Header): void {
  const fd = openDir(path);
  const old = state.dirModes.get(rel);
  if (old) closeSync(old.fd);
  state.dirModes.set(rel, {
    fd,
    mode: (h.mode ?? 0o755) & 0o7777,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    mtime: h.mtime,
  });
}

/** Removes a path, and forgets the queued metadata of the directories that went with it. */
function remove(root: string, rel: string, state: LayerState): void {
  rmSync(join(root, rel), { recursive: true, force: true });
  state.realDirs.clear();
  for (const [p, d] of state.dirModes) {
    if (p === rel || p.startsWith(`${rel}/`)) {
      closeSync(d.fd);
      state.dirModes.delete(p);
    }
  }
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
    if (h.type === 'directory') queueDir(state, '', root, h);
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
      if (!state.written.has(rel)) remove(root, rel, state);
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
    remove(root, dir === '' ? victim : `${dir}/${victim}`, state);
    return;
  }

  const path = join(root, name);
  const mode = (h.mode ?? 0o644) & 0o7777;
  const existing = lstatSync(path, { throwIfNoEntry: false });
  if (existing?.isDirectory() && h.type !== 'directory' && state.dirModes.has(name)) {
    // A layer that makes a directory and then puts something else in its place has no honest
    // use; it is the shape of an attack on whatever the directory's metadata is later applied to.
    throw invalidArgument(
      `${opts.label}: layer ${opts.digest}: entry "${h.name}" replaces a directory the same layer made; the layer is rejected`,
    );
  }
  if (existing && !(existing.isDirectory() && h.type === 'directory')) remove(root, name, state);
  if (dir !== '' && !state.realDirs.has(dir)) {
    // Every existing part of `dir` was just checked to be a real directory; mkdir makes the rest.
    mkdirSync(join(root, dir), { recursive: true });
    state.realDirs.add(dir);
  }
  state.written.add(name);

  switch (h.type) {
    case 'directory':
      if (!existing?.isDirectory()) mkdirSync(path, { mode: 0o700 });
      queueDir(state, name, path, h);
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
      // Device nodes and FIFOs need root to be made as the image has them; a rootless import skips them.
      if (!opts.privileged) return;
      await run('mknod', [
        '-m',
        mode.toString(8),
        path,
        h.type === 'fifo' ? 'p' : h.type === 'block-device' ? 'b' : 'c',
        ...(h.type === 'fifo' ? [] : [String(h.devmajor ?? 0), String(h.devminor ?? 0)]),
      ]);
      // By name, without following: mknod just made this node, with its mode.
      lchownSync(path, h.uid ?? 0, h.gid ?? 0);
      if (h.mtime) lutimesSync(path, h.mtime, h.mtime);
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
