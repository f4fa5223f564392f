import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { planModules } from './kernel-modules.js';
import { addKernelEntry, newKernelTree, type KernelTree } from './kernel-tree.js';

type Entry = { name: string; type?: string; linkname?: string; mode?: number; uid?: number };

/** A tree from layers of entries (regular files unless a type is given). */
function tree(...layers: Entry[][]): KernelTree {
  const t = newKernelTree();
  layers.forEach((entries, layer) => {
    t.beginLayer({ label: 'kernel "k"', digest: `sha256:layer${layer}` });
    entries.forEach((e, entry) =>
      addKernelEntry(
        t,
        { type: 'file', linkname: '', size: 1, ...e },
        { layer, entry, magic: Buffer.alloc(0) },
      ),
    );
  });
  return t;
}

const summary = (t: KernelTree) =>
  planModules(t, 'kernel "k"')?.entries.map((e) =>
    [e.kind, e.name, e.kind === 'symlink' ? e.target : e.kind === 'link' ? e.first : ''].join(' '),
  );

test('planModules: each release, parents first, hardlinks last, whiteouts applied', () => {
  const t = tree(
    [
      { name: 'boot/vmlinux' },
      { name: 'lib/modules/6.1/kernel/b.ko', mode: 0o640, uid: 5 },
      { name: 'lib/modules/6.1/kernel/a.ko' },
      { name: 'lib/modules/6.1/kernel/gone.ko' },
      { name: 'lib/modules/6.1/build', type: 'symlink', linkname: '/usr/src/linux' },
      { name: 'lib/modules/6.1/c.ko', type: 'link', linkname: 'lib/modules/6.1/kernel/b.ko' },
      { name: 'lib/modules/5.10/x.ko' },
      { name: 'lib/modules/stray-file' },
    ],
    [{ name: 'lib/modules/6.1/kernel/.wh.gone.ko' }],
  );
  const plan = planModules(t, 'kernel "k"');
  assert.deepEqual(plan?.releases, ['5.10', '6.1']);
  assert.deepEqual(summary(t), [
    'directory 5.10 ',
    'file 5.10/x.ko ',
    'directory 6.1 ',
    'symlink 6.1/build /usr/src/linux',
    'file 6.1/c.ko ',
    'directory 6.1/kernel ',
    'file 6.1/kernel/a.ko ',
    'link 6.1/kernel/b.ko 6.1/c.ko',
  ]);
  const b = plan?.entries.find((e) => e.name === '6.1/c.ko');
  assert.deepEqual(b?.meta, { mode: 0o640, uid: 5, gid: 0, mtime: 0 });
});

test('planModules: a /lib that is a symlink inside the image is followed; none is undefined', () => {
  const merged = tree([
    { name: 'lib', type: 'symlink', linkname: 'usr/lib' },
    { name: 'usr/lib/modules/6.1/m.ko' },
  ]);
  assert.deepEqual(summary(merged), ['directory 6.1 ', 'file 6.1/m.ko ']);
  assert.equal(planModules(tree([{ name: 'boot/vmlinux' }]), 'kernel "k"'), undefined);
  assert.equal(planModules(tree([{ name: 'lib/modules/file' }]), 'kernel "k"'), undefined);
});

test('planModules: names and entries a disk cannot be given reject the kernel image', () => {
  const cases: [Entry, RegExp][] = [
    [{ name: 'lib/modules/6.1/a b.ko' }, /\/lib\/modules\/6\.1\/a b\.ko: a name of other/],
    [{ name: 'lib/modules/6.1/q"' }, /q": a name of other/],
    [{ name: 'lib/modules/6.1/l', type: 'symlink', linkname: 'x y' }, /\/l: a symlink to "x y"/],
    [{ name: 'lib/modules/6.1/p', type: 'fifo' }, /\/p: a FIFO, not a file, directory or symlink/],
  ];
  for (const [entry, message] of cases) {
    assert.throws(
      () => planModules(tree([entry]), 'kernel "k"'),
      (e: unknown) =>
        AppError.is(e, 'InvalidArgument') &&
        message.test(e.message) &&
        /^kernel "k": .*the kernel image is rejected$/.test(e.message),
      entry.name,
    );
  }
});
