import { lstatSync, readdirSync } from 'node:fs';
import { rename, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, unavailable } from '../errors.js';
import { run } from '../system/exec.js';

const BLOCK = 4096;
const MiB = 1024 * 1024;

/**
 * Bytes a tree needs on ext4 with 4 KiB blocks, and its inode count. Synchronous calls: a tree
 * has thousands of entries, and a thread-pool round trip for each costs more than the call.
 */
export function measureTree(dir: string): { bytes: number; inodes: number } {
  let bytes = 0;
  let inodes = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      inodes++;
      bytes += Math.ceil(st.size / BLOCK) * BLOCK;
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return { bytes, inodes };
}

/**
 * Makes an ext4 image of `dir` at `dest` with `mkfs.ext4 -d`: no loop device, no mount. The file
 * is the content plus headroom (inode tables, journal, and room for the VM's own files); if mkfs
 * still runs out of room it is retried larger. Written beside `dest` and renamed into place.
 * Returns the tree's measure, which callers record as the image's size, so it is walked once.
 */
export async function buildExt4(
  dir: string,
  dest: string,
  label = 'rootfs',
): Promise<{ bytes: number; inodes: number }> {
  const measured = measureTree(dir);
  const { bytes, inodes } = measured;
  let size = Math.ceil((bytes * 1.25 + inodes * 512 + 64 * MiB) / MiB) * MiB;
  const tmp = `${dest}.tmp-${process.pid}`;
  try {
    for (let attempt = 0; ; attempt++) {
      await writeFile(tmp, '');
      await truncate(tmp, size);
      try {
        await run('mkfs.ext4', [
          '-q',
          '-F',
          '-b',
          String(BLOCK),
          '-I',
          '256',
          '-i',
          '8192',
          '-L',
          label.slice(0, 16),
          // No flex_bg: a VM's create grows this filesystem, and with flex_bg resize2fs searches
          // the image's used blocks to place the new groups' metadata, so create time grew with
          // the image's size. Without it each new group carries its own metadata.
          '-O',
          '^flex_bg',
          '-E',
          'root_owner=0:0',
          '-d',
          dir,
          tmp,
        ]);
        break;
      } catch (err) {
        const text = err instanceof AppError ? err.message : String(err);
        if (attempt < 3 && /space|Could not allocate|inode/i.test(text)) {
          size *= 2;
          continue;
        }
        throw err;
      }
    }
    await rename(tmp, dest);
    return measured;
  } catch (err) {
    await rm(tmp, { force: true });
    if (AppError.is(err)) throw err;
    throw unavailable(`${dest}: cannot build the ext4 image: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
