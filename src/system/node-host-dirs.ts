import { watch, type Dirent } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { unavailable } from '../errors.js';
import type { DirectoryListing, HostDirectories, ReadFilesOptions } from './host-dirs.js';

/** Deeper trees than this are not read: a directory of manifests is a few levels at most. */
const MAX_DEPTH = 16;

/** The host's directories through node:fs; the watch is fs.watch, recursive (inotify). */
export const nodeHostDirectories: HostDirectories = {
  async readFiles(dir, options) {
    const out: DirectoryListing = { files: [], unreadable: [] };
    await walk(dir, '', 0, options, out);
    out.files.sort((a, b) => (a.path < b.path ? -1 : 1));
    return out;
  },

  watch(dir, onChange, onError) {
    try {
      const w = watch(dir, { recursive: true, persistent: false }, () => onChange());
      w.on('error', (err) => {
        w.close();
        onError(err);
      });
      return { close: () => w.close() };
    } catch (err) {
      onError(err as Error);
      return { close: () => undefined };
    }
  },
};

async function walk(
  root: string,
  rel: string,
  depth: number,
  o: ReadFilesOptions,
  out: DirectoryListing,
): Promise<void> {
  const here = rel === '' ? root : join(root, rel);
  let entries: Dirent[];
  try {
    entries = await readdir(here, { withFileTypes: true });
  } catch (err) {
    if (rel !== '' && code(err) === 'ENOENT') return;
    throw unavailable(`directory ${here}: cannot read: ${code(err) ?? String(err)}`, {
      cause: err,
    });
  }
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = rel === '' ? entry.name : `${rel}/${entry.name}`;
    const full = join(root, path);
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target = await stat(full).catch(() => undefined);
      isDir = false;
      isFile = target?.isFile() === true;
    }
    if (isDir && depth < MAX_DEPTH) await walk(root, path, depth + 1, o, out);
    if (!isFile || !o.match(path)) continue;
    try {
      const size = (await stat(full)).size;
      if (size > o.maxBytes) {
        out.unreadable.push({ path, reason: `larger than ${o.maxBytes} bytes` });
        continue;
      }
      out.files.push({ path, text: await readFile(full, 'utf8') });
    } catch (err) {
      if (code(err) === 'ENOENT') continue;
      out.unreadable.push({ path, reason: `cannot read: ${code(err) ?? String(err)}` });
    }
  }
}

function code(err: unknown): string | undefined {
  const c = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof c === 'string' ? c : undefined;
}
