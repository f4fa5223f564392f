import { posix } from 'node:path';
import type { Header } from 'tar-stream';
import { invalidArgument } from '../errors.js';
import { OPAQUE, WHITEOUT } from './layer-stream.js';

/**
 * The tree an image's layers make, kept in memory from their tar headers alone: what each path
 * is, where a regular file's bytes are (layer and entry number), and its first bytes. Reading an
 * image this way writes nothing to the host, so no entry of it can reach the host's tree.
 */
export type TreeNode =
  | { kind: 'file'; layer: number; entry: number; size: number; magic: Buffer }
  | { kind: 'dir' }
  | { kind: 'symlink'; target: string }
  | { kind: 'other'; what: string };

/** Where a path led: the node and its path with every symlink resolved, or why it did not. */
export type Resolved =
  | { ok: true; path: string; node: TreeNode }
  | { ok: false; why: 'missing' | 'loop' | 'not a directory' };

const MAX_LINKS = 40;

const OTHER_KINDS: Record<string, string> = {
  fifo: 'a FIFO',
  'character-device': 'a character device',
  'block-device': 'a block device',
};

export class LayerTree {
  private readonly nodes = new Map<string, TreeNode>([['', { kind: 'dir' }]]);
  /** Paths the current layer wrote: an opaque directory keeps them. */
  private current = new Set<string>();

  /** Starts the next layer. */
  nextLayer(): void {
    this.current = new Set();
  }

  get size(): number {
    return this.nodes.size;
  }

  get(path: string): TreeNode | undefined {
    return this.nodes.get(path);
  }

  /**
   * Applies one entry, named by `name` (already checked by safeName, as is a hardlink's
   * `linkname`). Returns the node it made, if any: whiteouts make none.
   */
  add(
    name: string,
    h: Pick<Header, 'type' | 'linkname' | 'size'>,
    where: { layer: number; entry: number; magic: Buffer; label: string },
  ): TreeNode | undefined {
    const base = posix.basename(name);
    const dir = posix.dirname(name) === '.' ? '' : posix.dirname(name);
    if (base === OPAQUE) {
      for (const p of this.descendants(dir)) if (!this.current.has(p)) this.nodes.delete(p);
      return undefined;
    }
    if (base.startsWith(WHITEOUT)) {
      this.remove(
        dir === '' ? base.slice(WHITEOUT.length) : `${dir}/${base.slice(WHITEOUT.length)}`,
      );
      return undefined;
    }
    if (name === '') return undefined;
    let node: TreeNode;
    switch (h.type) {
      case 'file':
      case 'contiguous-file':
        node = {
          kind: 'file',
          layer: where.layer,
          entry: where.entry,
          size: h.size ?? 0,
          magic: where.magic,
        };
        break;
      case 'directory':
        node = { kind: 'dir' };
        break;
      case 'symlink':
        node = { kind: 'symlink', target: h.linkname ?? '' };
        break;
      case 'link': {
        const target = this.nodes.get(h.linkname ?? '');
        if (target?.kind !== 'file')
          throw invalidArgument(
            `${where.label}: entry "${name}": hardlink to "${h.linkname ?? ''}", which is not a regular file of the image`,
          );
        node = target;
        break;
      }
      default:
        node = {
          kind: 'other',
          what: OTHER_KINDS[h.type ?? ''] ?? `a ${h.type ?? 'strange'} entry`,
        };
    }
    // A layer may name a file without its directories: they are implied.
    for (
      let d = dir;
      d !== '' && !this.nodes.has(d);
      d = posix.dirname(d) === '.' ? '' : posix.dirname(d)
    )
      this.nodes.set(d, { kind: 'dir' });
    const old = this.nodes.get(name);
    if (old?.kind === 'dir' && node.kind === 'dir') return old;
    if (old?.kind === 'dir') this.remove(name);
    this.nodes.set(name, node);
    this.current.add(name);
    return node;
  }

  /** The names in a directory (resolved), sorted. */
  list(dir: string): string[] {
    const prefix = dir === '' ? '' : `${dir}/`;
    const names: string[] = [];
    for (const p of this.nodes.keys())
      if (p !== '' && p.startsWith(prefix) && !p.slice(prefix.length).includes('/'))
        names.push(p.slice(prefix.length));
    return names.sort();
  }

  /**
   * Resolves `path` inside the image as the guest would see it: symlinks (absolute ones from the
   * image's root, `..` stopping at the root) are followed in this tree, never on the host.
   */
  resolve(path: string): Resolved {
    let links = 0;
    let todo = path.split('/').filter((p) => p !== '' && p !== '.');
    let cur = '';
    while (todo.length > 0) {
      const [part = '', ...rest] = todo;
      todo = rest;
      if (part === '..') {
        cur = posix.dirname(cur) === '.' ? '' : posix.dirname(cur);
        continue;
      }
      const here = this.nodes.get(cur);
      if (here !== undefined && here.kind !== 'dir') return { ok: false, why: 'not a directory' };
      const next = cur === '' ? part : `${cur}/${part}`;
      const node = this.nodes.get(next);
      if (node === undefined) return { ok: false, why: 'missing' };
      if (node.kind === 'symlink') {
        if (++links > MAX_LINKS) return { ok: false, why: 'loop' };
        const target = node.target.split('/').filter((p) => p !== '' && p !== '.');
        if (node.target.startsWith('/')) cur = '';
        todo = [...target, ...todo];
        continue;
      }
      cur = next;
    }
    const node = this.nodes.get(cur);
    return node === undefined ? { ok: false, why: 'missing' } : { ok: true, path: cur, node };
  }

  private descendants(dir: string): string[] {
    const prefix = dir === '' ? '' : `${dir}/`;
    return [...this.nodes.keys()].filter((p) => p !== '' && p.startsWith(prefix));
  }

  private remove(path: string): void {
    this.nodes.delete(path);
    for (const p of this.descendants(path)) this.nodes.delete(p);
  }
}
