import { invalidArgument } from '../../errors.js';
import { OPAQUE, WHITEOUT, safeName, type LayerLabel } from '../layer-stream.js';
import type { Extent } from './layout.js';
import type { TarHeader } from './tar-reader.js';

export type InodeKind =
  'file' | 'directory' | 'symlink' | 'character-device' | 'block-device' | 'fifo';

/** An inode as the image will have it; hardlinked names share one. */
export interface Inode {
  kind: InodeKind;
  /** Permission bits with set-id and sticky bits (no type bits). */
  perm: number;
  uid: number;
  gid: number;
  mtime: number;
  mtimeNsec: number;
  size: number;
  /** Where a file's data (or a long symlink's target) was written. */
  extents: Extent[];
  target?: Buffer;
  devmajor: number;
  devminor: number;
  xattrs: Map<string, Buffer>;
}

/** A name in the tree. */
export interface Node {
  inode: Inode;
  /** A directory's entries. */
  children?: Map<string, Node>;
  /** The last layer that wrote this entry or something below it: an opaque marker keeps those. */
  touched: number;
  /** The last layer that had an entry for this directory itself. */
  declared: number;
}

export function newInode(kind: InodeKind, h?: Partial<TarHeader>): Inode {
  return {
    kind,
    perm: (h?.mode ?? (kind === 'directory' ? 0o755 : 0o644)) & 0o7777,
    uid: h?.uid ?? 0,
    gid: h?.gid ?? 0,
    mtime: h?.mtime ?? 0,
    mtimeNsec: h?.mtimeNsec ?? 0,
    size: 0,
    extents: [],
    devmajor: h?.devmajor ?? 0,
    devminor: h?.devminor ?? 0,
    xattrs: h?.xattrs ?? new Map<string, Buffer>(),
  };
}

/**
 * The merged tree of an image's layers, with OCI semantics: later layers replace earlier entries,
 * `.wh.<name>` deletes one, `.wh..wh..opq` hides what lower layers had in a directory. It only ever
 * holds names: no entry can reach outside it, but the same entries the host-tree unpacker refuses
 * are refused here, so a layer means the same thing to both.
 */
export class LayerTree {
  readonly root: Node = {
    inode: newInode('directory'),
    children: new Map(),
    touched: -1,
    declared: -1,
  };
  private layer = -1;
  private label: LayerLabel = { label: '', digest: '' };

  beginLayer(label: LayerLabel): void {
    this.layer++;
    this.label = label;
  }

  private reject(raw: string, why: string): never {
    throw invalidArgument(
      `${this.label.label}: layer ${this.label.digest}: entry "${raw}" ${why}; the layer is rejected`,
    );
  }

  /**
   * The directory that holds `parts[0..-1]`, made (as 0755 root directories) where missing when
   * `create`; refuses a path through a symlink or a non-directory.
   */
  private parentOf(parts: string[], raw: string, create: boolean, h?: TarHeader): Node | undefined {
    let dir = this.root;
    if (create) dir.touched = this.layer;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] ?? '';
      let next = dir.children?.get(part);
      if (next === undefined) {
        if (!create) return undefined;
        next = {
          inode: newInode('directory', { mtime: h?.mtime ?? 0, mtimeNsec: h?.mtimeNsec ?? 0 }),
          children: new Map(),
          touched: this.layer,
          declared: -1,
        };
        dir.children?.set(part, next);
      }
      const where = parts.slice(0, i + 1).join('/');
      if (next.inode.kind === 'symlink') this.reject(raw, `goes through the symlink "${where}"`);
      if (next.children === undefined)
        this.reject(raw, `goes through "${where}", which is not a directory`);
      if (create) next.touched = this.layer;
      dir = next;
    }
    return dir;
  }

  /** Applies a whiteout or opaque marker; returns false for an ordinary entry. */
  applyWhiteout(h: TarHeader): boolean {
    const name = safeName(h.name, this.label);
    const parts = name.split('/');
    const base = parts[parts.length - 1] ?? '';
    if (base === OPAQUE) {
      const dir = this.parentOf(parts, h.name, true, h);
      if (dir) this.prune(dir);
      return true;
    }
    if (!base.startsWith(WHITEOUT)) return false;
    const victim = base.slice(WHITEOUT.length);
    if (victim === '' || victim === '.' || victim === '..') {
      throw invalidArgument(
        `${this.label.label}: layer ${this.label.digest}: whiteout "${h.name}" names no entry; the layer is rejected`,
      );
    }
    this.parentOf(parts, h.name, false)?.children?.delete(victim);
    return true;
  }

  /** Drops what this layer did not write below `dir`. */
  private prune(dir: Node): void {
    for (const [name, child] of dir.children ?? []) {
      if (child.touched !== this.layer) dir.children?.delete(name);
      else if (child.children) this.prune(child);
    }
  }

  /**
   * Puts an entry in the tree. A directory over a directory merges (new metadata, same children);
   * anything else replaces what was there. Returns the node, or undefined for the root.
   */
  put(h: TarHeader, inode: () => Inode): Node | undefined {
    const name = safeName(h.name, this.label);
    if (name === '') {
      if (h.type === 'directory') this.mergeDir(this.root, h);
      return undefined;
    }
    const parts = name.split('/');
    const base = parts[parts.length - 1] ?? '';
    const dir = this.parentOf(parts, h.name, true, h);
    const existing = dir?.children?.get(base);
    if (existing?.children && h.type === 'directory') {
      this.mergeDir(existing, h);
      return existing;
    }
    if (existing?.children && existing.declared === this.layer) {
      // A layer that makes a directory and then puts something else in its place has no honest use.
      this.reject(h.name, 'replaces a directory the same layer made');
    }
    const node: Node =
      h.type === 'directory'
        ? {
            inode: newInode('directory', h),
            children: new Map(),
            touched: this.layer,
            declared: this.layer,
          }
        : { inode: inode(), touched: this.layer, declared: -1 };
    dir?.children?.set(base, node);
    return node;
  }

  private mergeDir(node: Node, h: TarHeader): void {
    const keep = node.inode;
    node.inode = { ...newInode('directory', h), extents: keep.extents };
    node.touched = this.layer;
    node.declared = this.layer;
  }

  /** The regular file a hardlink names, which must already be in the tree. */
  linkTarget(h: TarHeader): Inode {
    const target = safeName(h.linkname, this.label);
    const parts = target.split('/');
    const node = this.parentOf(parts, h.linkname, false)?.children?.get(
      parts[parts.length - 1] ?? '',
    );
    if (node?.inode.kind !== 'file') {
      throw invalidArgument(
        `${this.label.label}: layer ${this.label.digest}: hardlink "${h.name}" -> "${h.linkname}": the target is not a file in the image; the layer is rejected`,
      );
    }
    return node.inode;
  }
}
