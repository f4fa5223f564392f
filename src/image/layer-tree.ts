import { invalidArgument } from '../errors.js';
import { OPAQUE, WHITEOUT, safeName, type LayerLabel } from './layer-stream.js';

/** What the tree reads of a tar entry's header. */
export interface EntryHeader {
  name: string;
  type: string;
  linkname: string;
}

/** What the tree needs to know of what a name points at: its kind, and a symlink's target. */
export interface TreeInode {
  readonly kind: string;
  readonly target?: Buffer | undefined;
}

/** A name in the tree. Hardlinked names share one inode. */
export interface TreeNode<T> {
  inode: T;
  /** A directory's entries. */
  children?: Map<string, TreeNode<T>>;
  /** The last layer that wrote this entry or something below it: an opaque marker keeps those. */
  touched: number;
  /** The last layer that had an entry for this directory itself. */
  declared: number;
}

/** Where a path led: the node and its path with every symlink resolved, or why it did not. */
export type Resolved<T> =
  | { ok: true; path: string; node: TreeNode<T> }
  | { ok: false; why: 'missing' | 'loop' | 'not a directory' };

const MAX_LINKS = 40;

const split = (path: string) => path.split('/').filter((p) => p !== '' && p !== '.');

/**
 * The merged tree of an image's layers, kept in memory from their tar headers, with OCI semantics:
 * later layers replace earlier entries, `.wh.<name>` deletes one, `.wh..wh..opq` hides what lower
 * layers had in a directory. It only ever holds names, so no entry can reach outside it; still, the
 * entries the host-tree unpacker refuses are refused here, so a layer means the same thing to the
 * ext4 writer, the kernel import and the unpacker.
 *
 * What a name points at (`T`) is the reader's: the ext4 writer keeps inodes with their data's
 * place in the image, the kernel import where a file's bytes are in the layers.
 */
export class LayerTree<T extends TreeInode, H extends EntryHeader = EntryHeader> {
  readonly root: TreeNode<T>;
  private layer = -1;
  private label: LayerLabel = { label: '', digest: '' };

  /**
   * @param impliedDirectory the inode of a directory no entry declared: the root (no header), or
   *   a parent that an entry's path implies (that entry's header)
   */
  constructor(private readonly impliedDirectory: (by: H | undefined) => T) {
    this.root = {
      inode: impliedDirectory(undefined),
      children: new Map(),
      touched: -1,
      declared: -1,
    };
  }

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
   * The directory that holds `parts[0..-1]`, made where missing when `by` (the entry being put)
   * is given; refuses a path through a symlink or a non-directory.
   */
  private parentOf(parts: string[], raw: string, by?: H): TreeNode<T> | undefined {
    let dir = this.root;
    if (by) dir.touched = this.layer;
    for (let i = 0; i < parts.length - 1; i++) {
      const part = parts[i] ?? '';
      let next = dir.children?.get(part);
      if (next === undefined) {
        if (!by) return undefined;
        next = {
          inode: this.impliedDirectory(by),
          children: new Map(),
          touched: this.layer,
          declared: -1,
        };
        dir.children?.set(part, next);
      }
      if (next.children === undefined) {
        const where = parts.slice(0, i + 1).join('/');
        if (next.inode.kind === 'symlink') this.reject(raw, `goes through the symlink "${where}"`);
        this.reject(raw, `goes through "${where}", which is not a directory`);
      }
      if (by) next.touched = this.layer;
      dir = next;
    }
    return dir;
  }

  /** Applies a whiteout or opaque marker; returns false for an ordinary entry. */
  applyWhiteout(h: H): boolean {
    const name = safeName(h.name, this.label);
    const parts = name.split('/');
    const base = parts[parts.length - 1] ?? '';
    if (base === OPAQUE) {
      const dir = this.parentOf(parts, h.name, h);
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
    this.parentOf(parts, h.name)?.children?.delete(victim);
    return true;
  }

  /** Drops what this layer did not write below `dir`. */
  private prune(dir: TreeNode<T>): void {
    for (const [name, child] of dir.children ?? []) {
      if (child.touched !== this.layer) dir.children?.delete(name);
      else if (child.children) this.prune(child);
    }
  }

  /**
   * Puts an entry in the tree, with the inode `inode()` makes. A directory over a directory merges
   * (the new inode, the same children); anything else replaces what was there. Returns the node,
   * or undefined for the root.
   */
  put(h: H, inode: () => T): TreeNode<T> | undefined {
    const name = safeName(h.name, this.label);
    if (name === '') {
      if (h.type === 'directory') this.declare(this.root, inode());
      return undefined;
    }
    const parts = name.split('/');
    const base = parts[parts.length - 1] ?? '';
    const dir = this.parentOf(parts, h.name, h);
    const existing = dir?.children?.get(base);
    if (existing?.children && h.type === 'directory') {
      this.declare(existing, inode());
      return existing;
    }
    if (existing?.children && existing.declared === this.layer) {
      // A layer that makes a directory and then puts something else in its place has no honest use.
      this.reject(h.name, 'replaces a directory the same layer made');
    }
    const node: TreeNode<T> =
      h.type === 'directory'
        ? { inode: inode(), children: new Map(), touched: this.layer, declared: this.layer }
        : { inode: inode(), touched: this.layer, declared: -1 };
    dir?.children?.set(base, node);
    return node;
  }

  private declare(node: TreeNode<T>, inode: T): void {
    node.inode = inode;
    node.touched = this.layer;
    node.declared = this.layer;
  }

  /** The regular file a hardlink names, which must already be in the tree. */
  linkTarget(h: H): T {
    const parts = safeName(h.linkname, this.label).split('/');
    const node = this.parentOf(parts, h.linkname)?.children?.get(parts[parts.length - 1] ?? '');
    if (node?.inode.kind !== 'file') {
      throw invalidArgument(
        `${this.label.label}: layer ${this.label.digest}: hardlink "${h.name}" -> "${h.linkname}": the target is not a file in the image; the layer is rejected`,
      );
    }
    return node.inode;
  }

  /** The node at `path`, symlinks not followed. */
  get(path: string): TreeNode<T> | undefined {
    let node: TreeNode<T> | undefined = this.root;
    for (const part of split(path)) node = node?.children?.get(part);
    return node;
  }

  /** The names in the directory at `path` (symlinks not followed), sorted. */
  list(path: string): string[] {
    return [...(this.get(path)?.children?.keys() ?? [])].sort();
  }

  /**
   * Resolves `path` inside the image as the guest would see it: symlinks (absolute ones from the
   * image's root, `..` stopping at the root) are followed in this tree, never on the host.
   */
  resolve(path: string): Resolved<T> {
    let links = 0;
    let todo = split(path);
    const trail: [string, TreeNode<T>][] = [];
    let cur = this.root;
    while (todo.length > 0) {
      const [part = '', ...rest] = todo;
      todo = rest;
      if (part === '..') {
        trail.pop();
        cur = trail[trail.length - 1]?.[1] ?? this.root;
        continue;
      }
      if (cur.children === undefined) return { ok: false, why: 'not a directory' };
      const next = cur.children.get(part);
      if (next === undefined) return { ok: false, why: 'missing' };
      if (next.inode.kind === 'symlink') {
        if (++links > MAX_LINKS) return { ok: false, why: 'loop' };
        const target = next.inode.target?.toString('utf8') ?? '';
        if (target.startsWith('/')) {
          trail.length = 0;
          cur = this.root;
        }
        todo = [...split(target), ...todo];
        continue;
      }
      trail.push([part, next]);
      cur = next;
    }
    return { ok: true, path: trail.map(([name]) => name).join('/'), node: cur };
  }
}
