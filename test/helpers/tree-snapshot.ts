import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const pexec = promisify(execFile);

/** What a tree comparison looks at, per path. */
export interface TreeEntry {
  mode: string;
  uid: number;
  gid: number;
  sha256?: string;
  size?: number;
  mtime?: number;
  target?: string;
  rdev?: [number, number];
  xattrs: Record<string, string>;
}

export interface TreeSnapshot {
  entries: Record<string, TreeEntry>;
  /** Groups of paths that are one inode (regular files with more than one link). */
  hardlinks: string[][];
}

// Python's os module reads xattrs and device numbers, which Node's fs cannot.
const SCRIPT = `
import hashlib, json, os, stat, sys
root = sys.argv[1]
out, inodes = {}, {}
for d, dirs, files in os.walk(root):
    for name in dirs + files:
        p = os.path.join(d, name)
        rel = os.path.relpath(p, root)
        st = os.lstat(p)
        e = {'mode': oct(st.st_mode), 'uid': st.st_uid, 'gid': st.st_gid}
        if stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            with open(p, 'rb') as f:
                for chunk in iter(lambda: f.read(1 << 20), b''):
                    h.update(chunk)
            e.update(sha256=h.hexdigest(), size=st.st_size, mtime=int(st.st_mtime))
            if st.st_nlink > 1:
                inodes.setdefault(st.st_ino, []).append(rel)
        elif stat.S_ISLNK(st.st_mode):
            e['target'] = os.readlink(p)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            e['rdev'] = [os.major(st.st_rdev), os.minor(st.st_rdev)]
        e['xattrs'] = {k: os.getxattr(p, k, follow_symlinks=False).hex()
                       for k in sorted(os.listxattr(p, follow_symlinks=False))}
        out[rel] = e
print(json.dumps({'entries': out, 'hardlinks': sorted(sorted(v) for v in inodes.values())}))
`;

/** Every path under `root` with its type and mode, owner, content hash, link target, device and xattrs. */
export async function snapshotTree(root: string): Promise<TreeSnapshot> {
  const { stdout } = await pexec('python3', ['-c', SCRIPT, root], { maxBuffer: 256 << 20 });
  return JSON.parse(stdout) as TreeSnapshot;
}

/** The differences between two snapshots, as readable lines (empty when they match). */
export function diffTrees(
  a: TreeSnapshot,
  b: TreeSnapshot,
  ignore: (path: string) => boolean,
): string[] {
  const out: string[] = [];
  const paths = new Set([...Object.keys(a.entries), ...Object.keys(b.entries)]);
  for (const p of [...paths].sort()) {
    if (ignore(p)) continue;
    const x = a.entries[p];
    const y = b.entries[p];
    if (!x || !y) out.push(`${p}: only in ${x ? 'the first' : 'the second'}`);
    else if (JSON.stringify(x) !== JSON.stringify(y))
      out.push(`${p}: ${JSON.stringify(x)} != ${JSON.stringify(y)}`);
  }
  const links = (s: TreeSnapshot) =>
    JSON.stringify(s.hardlinks.map((g) => g.filter((p) => !ignore(p))));
  if (links(a) !== links(b)) out.push(`hardlink groups differ: ${links(a)} != ${links(b)}`);
  return out;
}
