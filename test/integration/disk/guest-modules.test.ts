import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, runUnchecked } from '../../../src/system/exec.js';
import { createRootDisk } from '../../../src/vmm/disk/create-root-disk.js';
import { readGuestFile } from '../../../src/vmm/disk/debugfs-writer.js';
import { imageHasPath } from '../../../src/vmm/disk/modules-writer.js';
import { tarOf } from '../../helpers/push-image.js';

const REL = '6.1.9-test';
const mtime = new Date('2024-05-01T00:00:00Z');

/** A modules tar as the kernel import writes it: `<release>/…`, hardlinks last. */
const modulesTar = () =>
  tarOf([
    [{ name: REL, type: 'directory', mode: 0o755, mtime }],
    [{ name: `${REL}/kernel`, type: 'directory', mode: 0o750, uid: 3, gid: 4, mtime }],
    [{ name: `${REL}/build`, type: 'symlink', linkname: '/usr/src/linux-6.1', mtime }],
    [{ name: `${REL}/kernel/dummy.ko`, type: 'file', mode: 0o644, mtime }, 'dummy module\n'],
    [{ name: `${REL}/modules.dep`, type: 'file', mode: 0o600, uid: 7, gid: 8, mtime }, 'dep\n'],
    [{ name: 'other/x.ko', type: 'file', mode: 0o644, mtime }, 'another release\n'],
    [{ name: `${REL}/kernel/again.ko`, type: 'link', linkname: `${REL}/kernel/dummy.ko`, mtime }],
  ]);

/** An ext4 image of `tree()`'s making, and a modules tar beside it. */
async function fixture(tree: (root: string) => Promise<void>) {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-modules-'));
  const root = join(dir, 'tree');
  await mkdir(join(root, 'etc'), { recursive: true });
  await tree(root);
  const image = join(dir, 'image.ext4');
  await run('truncate', ['-s', '64M', image]);
  await run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', root, image]);
  const tarPath = join(dir, 'modules.tar');
  await writeFile(tarPath, await modulesTar());
  return {
    dir,
    image,
    tarPath,
    [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }),
  };
}

const stat = async (raw: string, path: string) =>
  (await run('debugfs', ['-R', `stat ${path}`, raw])).stdout;

const layouts: { name: string; tree: (root: string) => Promise<void>; real: string }[] = [
  {
    name: 'merged /usr (/lib -> usr/lib, as Debian)',
    tree: async (root) => {
      await mkdir(join(root, 'usr/lib'), { recursive: true });
      await symlink('usr/lib', join(root, 'lib'));
    },
    real: '/usr/lib/modules',
  },
  { name: 'no /lib at all (as busybox)', tree: () => Promise.resolve(), real: '/lib/modules' },
];

for (const l of layouts) {
  test(`modules go into a qcow2 overlay under /lib/modules/<release>: ${l.name}`, async () => {
    await using fx = await fixture(l.tree);
    assert.equal(await imageHasPath(fx.image, `/lib/modules/${REL}`), false);
    const vmDir = join(fx.dir, 'vm');
    await mkdir(vmDir);
    const disk = await createRootDisk({
      imagePath: fx.image,
      vmDir,
      format: 'qcow2',
      sizeBytes: 128 << 20,
      label: 'vm "m"',
      files: [],
      modules: { tarPath: fx.tarPath, release: REL },
    });
    const raw = join(fx.dir, 'view.raw');
    await run('qemu-img', ['convert', '-O', 'raw', disk.path, raw]);
    assert.equal(await imageHasPath(raw, `/lib/modules/${REL}`), true);
    assert.equal(await readGuestFile(raw, `${l.real}/${REL}/kernel/dummy.ko`), 'dummy module\n');
    assert.equal(await readGuestFile(raw, `/lib/modules/${REL}/kernel/again.ko`), 'dummy module\n');
    const dep = await stat(raw, `/lib/modules/${REL}/modules.dep`);
    assert.match(dep, /Mode:\s+0600/);
    assert.match(dep, /User:\s+7\s+Group:\s+8/);
    assert.match(dep, /mtime: 0x66318600:/, 'the time of the layer entry (2024-05-01)');
    const kdir = await stat(raw, `/lib/modules/${REL}/kernel`);
    assert.match(kdir, /Type: directory\s+Mode:\s+0750/);
    assert.match(kdir, /User:\s+3\s+Group:\s+4/);
    assert.match(
      await stat(raw, `/lib/modules/${REL}/build`),
      /Fast link dest: "\/usr\/src\/linux-6\.1"/,
    );
    assert.equal(await imageHasPath(raw, '/lib/modules/other'), false, 'only the kernel release');
    const fsck = await runUnchecked('e2fsck', ['-fn', raw]);
    assert.equal(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
    assert.equal(await imageHasPath(fx.image, `/lib/modules/${REL}`), false, 'image untouched');
  });
}

test('imageHasPath follows symlinks inside the image and refuses unsafe paths', async () => {
  await using fx = await fixture(async (root) => {
    await mkdir(join(root, `usr/lib/modules/${REL}`), { recursive: true });
    await symlink('usr/lib', join(root, 'lib'));
  });
  assert.equal(await imageHasPath(fx.image, `/lib/modules/${REL}`), true);
  assert.equal(await imageHasPath(fx.image, '/lib/modules/9.9'), false);
  await assert.rejects(imageHasPath(fx.image, '/lib/modules/a b'), /guest path/);
});
