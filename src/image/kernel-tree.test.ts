import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HOSTILE_LAYERS, symlinkAfterDirectory } from '../../test/helpers/layer-tar.js';
import { AppError } from '../errors.js';
import {
  addKernelEntry,
  chooseKernelFiles,
  newKernelTree,
  type KernelTree,
} from './kernel-tree.js';

const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** A tree from layers of `[name, type, linkname?]` entries; files named "…elf…" are ELFs. */
function tree(...layers: [string, string, string?][][]): KernelTree {
  const t = newKernelTree();
  layers.forEach((entries, layer) => {
    t.beginLayer({ label: 'kernel "k"', digest: `sha256:layer${layer}` });
    entries.forEach(([name, type, linkname = ''], entry) =>
      addKernelEntry(
        t,
        { name, type, linkname, size: 4 },
        {
          layer,
          entry,
          magic: name.includes('elf') || linkname.includes('elf') ? ELF : Buffer.from('MZ..'),
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
    /hardlink "boot\/vmlinux" -> "boot\/x": the target is not a file in the image/,
  );
});

test('the kernel import refuses the layers the ext4 writer and the host unpacker refuse', () => {
  for (const [what, entries] of [
    ...HOSTILE_LAYERS,
    ...symlinkAfterDirectory({ file: '/usr/bin/bash', dir: '/etc' }),
  ]) {
    const t = newKernelTree();
    t.beginLayer({ label: 'kernel "k"', digest: 'sha256:abc' });
    assert.throws(
      () =>
        entries.forEach((e, entry) =>
          addKernelEntry(
            t,
            { name: e.name, type: e.type ?? 'file', linkname: e.linkname ?? '', size: 0 },
            { layer: 0, entry, magic: Buffer.alloc(0) },
          ),
        ),
      (err: unknown) =>
        AppError.is(err, 'InvalidArgument') &&
        /^kernel "k": layer sha256:abc: .*rejected$/.test(err.message),
      what,
    );
  }
});
