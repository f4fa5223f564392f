import { createReadStream, createWriteStream } from 'node:fs';
import {
  chmod,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  readdir,
  rm,
  symlink,
  utimes,
  open,
} from 'node:fs/promises';
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
  if (kind === 'gzip') return createReadStream(file).pipe(createGunzip());
  if (kind === 'none') return createReadStream(file);
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

/** Applies one layer file to `root`. Throws on the first unsafe or broken entry. */
export async function applyLayer(
  root: string,
  layerFile: string,
  opts: ApplyLayerOptions,
): Promise<void> {
  const written = new Set<string>();
  const dirModes: {
    path: string;
    mode: number;
    uid: number;
    gid: number;
    mtime: Date | undefined;
  }[] = [];
  const ex = extract();
  const source = await tarStream(layerFile);

  const consume = async () => {
    for await (const entry of ex) {
      const h = entry.header;
      try {
        await applyEntry(root, h, entry as unknown as Readable, opts, written, dirModes);
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
  for (const d of dirModes.reverse()) {
    if (opts.privileged) await lchown(d.path, d.uid, d.gid);
    await chmod(d.path, d.mode);
    if (d.mtime) await utimes(d.path, d.mtime, d.mtime);
  }
}

async function applyEntry(
  root: string,
  h: Header,
  body: Readable,
  opts: ApplyLayerOptions,
  written: Set<string>,
  dirModes: { path: string; mode: number; uid: number; gid: number; mtime: Date | undefined }[],
): Promise<void> {
  const name = safeName(h.name, opts);
  if (name === '') {
    if (h.type === 'directory')
      dirModes.push({
        path: root,
        mode: (h.mode ?? 0o755) & 0o7777,
        uid: h.uid ?? 0,
        gid: h.gid ?? 0,
        mtime: h.mtime,
      });
    return;
  }
  const dir = posix.dirname(name);
  const base = posix.basename(name);
  await checkNoSymlinkOnPath(root, dir === '.' ? '' : dir, h.name, opts);

  if (base === OPAQUE) {
    // An opaque directory hides everything the lower layers had in it.
    const target = join(root, dir);
    await mkdir(target, { recursive: true });
    for (const child of await readdir(target)) {
      const rel = dir === '.' ? child : `${dir}/${child}`;
      if (!written.has(rel)) await rm(join(target, child), { recursive: true, force: true });
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
    await rm(join(root, dir, victim), { recursive: true, force: true });
    return;
  }

  const path = join(root, name);
  const mode = (h.mode ?? 0o644) & 0o7777;
  const existing = await lstat(path).catch(() => undefined);
  if (existing && !(existing.isDirectory() && h.type === 'directory'))
    await rm(path, { recursive: true, force: true });
  await mkdir(join(root, dir), { recursive: true });
  written.add(name);

  switch (h.type) {
    case 'directory':
      if (!existing?.isDirectory()) await mkdir(path, { mode: 0o700 });
      dirModes.push({ path, mode, uid: h.uid ?? 0, gid: h.gid ?? 0, mtime: h.mtime });
      return;
    case 'file':
    case 'contiguous-file':
      await pipeline(body, createWriteStream(path, { mode: 0o600, flags: 'wx' }));
      break;
    case 'symlink':
      await symlink(h.linkname ?? '', path);
      if (opts.privileged) await lchown(path, h.uid ?? 0, h.gid ?? 0);
      if (h.mtime) await lutimes(path, h.mtime, h.mtime);
      return;
    case 'link': {
      const target = safeName(h.linkname ?? '', { ...opts });
      const targetDir = posix.dirname(target);
      await checkNoSymlinkOnPath(root, targetDir === '.' ? '' : targetDir, h.linkname ?? '', opts);
      const st = await lstat(join(root, target)).catch(() => undefined);
      if (!st || st.isDirectory() || st.isSymbolicLink()) {
        throw invalidArgument(
          `${opts.label}: layer ${opts.digest}: hardlink "${h.name}" -> "${h.linkname ?? ''}": the target is not a file in the image; the layer is rejected`,
        );
      }
      await link(join(root, target), path);
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
      break;
    default:
      // pax headers are folded in by tar-stream; other types (sockets…) have no place in an image.
      return;
  }
  if (opts.privileged) await lchown(path, h.uid ?? 0, h.gid ?? 0);
  await chmod(path, mode);
  if (h.mtime) await utimes(path, h.mtime, h.mtime);
}

/**
 * Refuses a path whose parent directories include a symlink: writing through it could land
 * anywhere on the host. Images store files at their real paths, so well-formed layers never need it.
 */
async function checkNoSymlinkOnPath(
  root: string,
  relDir: string,
  raw: string,
  opts: ApplyLayerOptions,
): Promise<void> {
  if (relDir === '' || relDir === '.') return;
  let cur = root;
  for (const part of relDir.split('/')) {
    cur = join(cur, part);
    const st = await lstat(cur).catch(() => undefined);
    if (st === undefined) return;
    if (st.isSymbolicLink()) {
      throw invalidArgument(
        `${opts.label}: layer ${opts.digest}: entry "${raw}" goes through the symlink "${cur.slice(root.length + 1)}"; the layer is rejected`,
      );
    }
    if (!st.isDirectory()) {
      throw invalidArgument(
        `${opts.label}: layer ${opts.digest}: entry "${raw}" goes through "${cur.slice(root.length + 1)}", which is not a directory; the layer is rejected`,
      );
    }
  }
}
