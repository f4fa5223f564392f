import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { LayerTree } from './layer-tree.js';

/** Inodes that say which entry made them, so a test can tell a merge from a replacement. */
interface Made {
  kind: string;
  by: string;
  target?: Buffer;
}

type Entry = [name: string, type: string, linkname?: string];

function tree(...layers: Entry[][]): LayerTree<Made> {
  const t = new LayerTree<Made>((by) => ({
    kind: 'directory',
    by: `implied by ${by?.name ?? '-'}`,
  }));
  layers.forEach((entries, layer) => {
    t.beginLayer({ label: 'image "t"', digest: `sha256:l${layer}` });
    for (const [name, type, linkname = ''] of entries) {
      const h = { name, type, linkname };
      if (t.applyWhiteout(h)) continue;
      const inode: Made =
        type === 'link'
          ? t.linkTarget(h)
          : { kind: type, by: `${layer}:${name}`, target: Buffer.from(linkname) };
      t.put(h, () => inode);
    }
  });
  return t;
}

const rejects = (layers: Entry[][], message: RegExp) =>
  assert.throws(
    () => tree(...layers),
    (err: unknown) => AppError.is(err, 'InvalidArgument') && message.test(err.message),
    message.source,
  );

test('an entry names its parents: missing ones are implied, a declared one keeps its children', () => {
  const t = tree(
    [['usr/bin/sh', 'file']],
    [
      ['usr', 'directory'],
      ['usr/lib/x', 'file'],
    ],
  );
  assert.equal(t.get('usr/bin')?.inode.by, 'implied by usr/bin/sh');
  assert.equal(t.get('usr')?.inode.by, '1:usr');
  assert.deepEqual(t.list('usr'), ['bin', 'lib']);
  assert.deepEqual(t.list(''), ['usr']);
});

test('a whiteout deletes one name and what is below it; an opaque marker keeps what its layer wrote', () => {
  const t = tree(
    [
      ['etc/a', 'file'],
      ['etc/b/c', 'file'],
      ['lib/old', 'file'],
      ['lib/keep/old', 'file'],
    ],
    [
      ['etc/.wh.b', 'file'],
      ['lib/keep/new', 'file'],
      ['lib/.wh..wh..opq', 'file'],
    ],
  );
  assert.deepEqual(t.list('etc'), ['a']);
  assert.deepEqual(t.list('lib'), ['keep']);
  assert.deepEqual(t.list('lib/keep'), ['new']);
});

test('a hardlink shares its target inode; a later layer replacing the name does not touch it', () => {
  const t = tree(
    [
      ['bin/busybox', 'file'],
      ['bin/sh', 'link', 'bin/busybox'],
    ],
    [['bin/busybox', 'file']],
  );
  assert.equal(t.get('bin/sh')?.inode.by, '0:bin/busybox');
  assert.equal(t.get('bin/busybox')?.inode.by, '1:bin/busybox');
});

test('the entries the host unpacker refuses are refused, naming the layer and the entry', () => {
  rejects(
    [[['lib', 'symlink', '/usr/lib']], [['lib/x', 'file']]],
    /^image "t": layer sha256:l1: entry "lib\/x" goes through the symlink "lib"; the layer is rejected$/,
  );
  rejects(
    [[['a', 'file']], [['a/b', 'file']]],
    /entry "a\/b" goes through "a", which is not a directory/,
  );
  rejects(
    [
      [
        ['d', 'directory'],
        ['d', 'symlink', '/etc'],
      ],
    ],
    /entry "d" replaces a directory the same layer made/,
  );
  rejects([[['x/.wh.', 'file']]], /whiteout "x\/.wh." names no entry/);
  rejects([[['sh', 'link', 'busybox']]], /hardlink "sh" -> "busybox": the target is not a file/);
  rejects([[['../etc/passwd', 'file']]], /leaves the root/);
});

test('resolve follows symlinks inside the tree only, .. stopping at its root', () => {
  const t = tree([
    ['real/vmlinuz', 'file'],
    ['boot', 'symlink', 'real'],
    ['abs', 'symlink', '/boot/vmlinuz'],
    ['up', 'symlink', '../../boot/../real/vmlinuz'],
    ['host', 'symlink', '/etc/shadow'],
    ['loop', 'symlink', 'loop'],
  ]);
  const file = t.get('real/vmlinuz');
  for (const p of ['boot/vmlinuz', 'abs', 'up', 'real/../abs'])
    assert.deepEqual(t.resolve(p), { ok: true, path: 'real/vmlinuz', node: file }, p);
  assert.deepEqual(t.resolve('host'), { ok: false, why: 'missing' });
  assert.deepEqual(t.resolve('loop'), { ok: false, why: 'loop' });
  assert.deepEqual(t.resolve('abs/x'), { ok: false, why: 'not a directory' });
  assert.equal(t.get('boot')?.inode.kind, 'symlink', 'get does not follow symlinks');
  assert.deepEqual(t.list('boot'), []);
});
