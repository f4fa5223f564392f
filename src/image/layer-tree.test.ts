import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { LayerTree } from './layer-tree.js';
import { chooseKernelFiles } from './kernel-pull.js';

const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** A tree from layers of `[name, type, linkname?]` entries; files starting "elf" are ELFs. */
function tree(...layers: [string, string, string?][][]): LayerTree {
  const t = new LayerTree();
  layers.forEach((entries, layer) => {
    t.nextLayer();
    entries.forEach(([name, type, linkname], entry) =>
      t.add(
        name,
        { type: type as 'file', size: 4, linkname: linkname as string },
        {
          layer,
          entry,
          magic: name.includes('elf') || linkname?.includes('elf') ? ELF : Buffer.from('MZ..'),
          label: 'kernel "k"',
        },
      ),
    );
  });
  return t;
}

test('resolve follows symlinks inside the image only; .. stops at its root', () => {
  const t = tree([
    ['boot', 'directory'],
    ['boot/vmlinuz-6.1', 'file'],
    ['vmlinuz', 'symlink', 'boot/vmlinuz-6.1'],
    ['up', 'symlink', '../../../../boot/vmlinuz-6.1'],
    ['abs', 'symlink', '/boot/vmlinuz-6.1'],
    ['shadow', 'symlink', '/etc/shadow'],
    ['loop', 'symlink', 'loop'],
  ]);
  for (const p of ['vmlinuz', 'up', 'abs', 'boot/../vmlinuz'])
    assert.deepEqual(
      t.resolve(p),
      { ok: true, path: 'boot/vmlinuz-6.1', node: t.get('boot/vmlinuz-6.1') },
      p,
    );
  assert.deepEqual(t.resolve('shadow'), { ok: false, why: 'missing' });
  assert.deepEqual(t.resolve('loop'), { ok: false, why: 'loop' });
  assert.deepEqual(t.resolve('boot/vmlinuz-6.1/x'), { ok: false, why: 'not a directory' });
});

test('whiteouts and opaque directories in later layers remove what earlier layers made', () => {
  const t = tree(
    [
      ['boot/vmlinux-elf', 'file'],
      ['boot/initrd.img', 'file'],
      ['lib/a', 'file'],
    ],
    [
      ['boot/.wh.vmlinux-elf', 'file'],
      ['lib/b', 'file'],
      ['lib/.wh..wh..opq', 'file'],
    ],
  );
  assert.equal(t.get('boot/vmlinux-elf'), undefined);
  assert.ok(t.get('boot/initrd.img'));
  assert.deepEqual(t.list('lib'), ['b']);
});

test('chooseKernelFiles: vmlinux ELF first, then bzImage; initrd; symlinks resolved in the tree', () => {
  const a = chooseKernelFiles(
    tree([
      ['boot/vmlinuz-6.1', 'file'],
      ['boot/vmlinux', 'symlink', 'vmlinux-elf'],
      ['boot/vmlinux-elf', 'file'],
      ['boot/initrd.img-6.1', 'file'],
    ]),
    'kernel "k"',
  );
  assert.equal(a.kernel.name, 'boot/vmlinux-elf');
  assert.equal(a.kernel.kind, 'elf');
  assert.equal(a.initrd?.name, 'boot/initrd.img-6.1');
  const b = chooseKernelFiles(
    tree([
      ['real/vmlinuz-6.1', 'file'],
      ['boot', 'symlink', 'real'],
      ['real/vmlinux', 'file'],
    ]),
    'kernel "k"',
  );
  assert.deepEqual(
    [b.kernel.name, b.kernel.kind, b.initrd],
    ['real/vmlinuz-6.1', 'bzImage', undefined],
  );
  const c = chooseKernelFiles(
    tree([
      ['boot/data-elf', 'file'],
      ['boot/vmlinux', 'link', 'boot/data-elf'],
    ]),
    'kernel "k"',
  );
  assert.equal(c.kernel.kind, 'elf');
});

test('chooseKernelFiles refuses a FIFO, device or directory as the kernel, and names a dangling link', () => {
  for (const [type, what] of [
    ['fifo', 'a FIFO'],
    ['character-device', 'a character device'],
    ['block-device', 'a block device'],
    ['directory', 'a directory'],
  ] as const) {
    assert.throws(
      () => chooseKernelFiles(tree([['boot/vmlinux', type]]), 'kernel "k"'),
      (err: unknown) =>
        AppError.is(err, 'InvalidArgument') &&
        err.message ===
          `kernel "k": /boot/vmlinux is ${what}, not a regular file; the kernel is rejected`,
      type,
    );
  }
  assert.throws(
    () => chooseKernelFiles(tree([['boot/vmlinux', 'symlink', '/etc/shadow']]), 'kernel "k"'),
    (err: unknown) =>
      AppError.is(err, 'NotFound') &&
      /\/boot\/vmlinux is a symlink to "\/etc\/shadow", which the image lacks/.test(err.message),
  );
  assert.throws(
    () =>
      chooseKernelFiles(
        tree([
          ['boot/x', 'fifo'],
          ['boot/vmlinux', 'link', 'boot/x'],
        ]),
        'kernel "k"',
      ),
    /hardlink to "boot\/x", which is not a regular file/,
  );
});
