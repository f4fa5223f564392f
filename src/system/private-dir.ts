import { lstat, mkdir } from 'node:fs/promises';
import { permissionDenied } from '../errors.js';

/**
 * Makes `dir` (and its missing parents) as a directory only this process's user can enter, and
 * checks that it is one: a real directory, owned by the user, with no access for group or others.
 * A dir under /tmp may have been made first by another user to watch or take over the sockets
 * put there; such a dir is refused, never used.
 */
export async function ensurePrivateDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const st = await lstat(dir);
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0)
    throw permissionDenied(
      `runtime dir ${dir}: not a private directory of this user (owner ${st.uid}, mode ${(st.mode & 0o7777).toString(8)})`,
      { hint: `remove it, or set XDG_RUNTIME_DIR to a directory of your own with mode 0700` },
    );
}
