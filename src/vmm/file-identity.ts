import { stat } from 'node:fs/promises';

/**
 * What tells a file's content apart without reading it: while none of these change, the file
 * holds what it held (a write changes the modification and change times; a replacement, the
 * inode). Times in nanoseconds, as decimal strings.
 */
export interface FileIdentity {
  dev: string;
  ino: string;
  size: string;
  mtimeNs: string;
  ctimeNs: string;
}

/** The identity of the file at `path` now. */
export async function fileIdentity(path: string): Promise<FileIdentity> {
  const st = await stat(path, { bigint: true });
  return {
    dev: String(st.dev),
    ino: String(st.ino),
    size: String(st.size),
    mtimeNs: String(st.mtimeNs),
    ctimeNs: String(st.ctimeNs),
  };
}

/** Whether two identities are the same file, unchanged; anything malformed is not. */
export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  const keys = ['dev', 'ino', 'size', 'mtimeNs', 'ctimeNs'] as const;
  return keys.every((k) => typeof a[k] === 'string' && a[k] === b[k]);
}
