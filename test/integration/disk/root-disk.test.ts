import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../../src/system/exec.js';
import { createRootDisk, vmGuestFiles } from '../../../src/vmm/disk/create-root-disk.js';
import { readGuestFile } from '../../../src/vmm/disk/debugfs-writer.js';

async function fixture(): Promise<{ dir: string; image: string } & AsyncDisposable> {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-disk-'));
  const tree = join(dir, 'tree');
  await mkdir(join(tree, 'etc'), { recursive: true });
  await writeFile(join(tree, 'etc', 'os-release'), 'ID=test\n');
  const image = join(dir, 'image.ext4');
  await writeFile(image, '');
  await run('truncate', ['-s', '64M', image]);
  await run('mkfs.ext4', ['-q', '-F', '-b', '4096', '-d', tree, image]);
  return { dir, image, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

const digest = async (f: string) =>
  createHash('sha256')
    .update(await readFile(f))
    .digest('hex');

async function rawView(disk: string, format: 'qcow2' | 'raw', dir: string): Promise<string> {
  if (format === 'raw') return disk;
  const out = join(dir, `view-${Math.random()}.raw`);
  await run('qemu-img', ['convert', '-O', 'raw', disk, out]);
  return out;
}

for (const format of ['qcow2', 'raw'] as const) {
  test(`${format} root disk: the image untouched, grown, with the VM's files written in`, async () => {
    await using fx = await fixture();
    const before = await digest(fx.image);
    await writeFile(join(fx.dir, 'copied'), 'copied file\n', { mode: 0o640 });
    const disks: string[] = [];
    for (const vm of ['a', 'b']) {
      const vmDir = join(fx.dir, vm);
      await mkdir(vmDir);
      const d = await createRootDisk({
        imagePath: fx.image,
        vmDir,
        format,
        sizeBytes: 1 << 30,
        label: `vm "${vm}"`,
        files: vmGuestFiles({
          hostname: vm,
          nameservers: ['10.0.0.53'],
          authorizedKeys: ['ssh-ed25519 AAAA test'],
          copyFiles: [{ hostPath: join(fx.dir, 'copied'), vmPath: '/opt/x/copied' }],
        }),
      });
      disks.push(d.path);
      const raw = await rawView(d.path, format, fx.dir);
      assert.equal(await readGuestFile(raw, '/etc/hostname'), `${vm}\n`);
      assert.match(await readGuestFile(raw, '/etc/hosts'), new RegExp(`127\\.0\\.1\\.1\\t${vm}`));
      assert.equal(await readGuestFile(raw, '/etc/resolv.conf'), 'nameserver 10.0.0.53\n');
      assert.equal(
        await readGuestFile(raw, '/root/.ssh/authorized_keys'),
        'ssh-ed25519 AAAA test\n',
      );
      assert.equal(await readGuestFile(raw, '/opt/x/copied'), 'copied file\n');
      assert.equal(
        await readGuestFile(raw, '/etc/os-release'),
        'ID=test\n',
        'the image content is there',
      );
      const keyStat = (await run('debugfs', ['-R', 'stat /root/.ssh/authorized_keys', raw])).stdout;
      assert.match(keyStat, /Mode:\s+0600/);
      assert.match(
        (await run('debugfs', ['-R', 'stat /opt/x/copied', raw])).stdout,
        /Mode:\s+0640/,
        'the host file mode is kept',
      );
      const blocks = Number(
        /Block count:\s+(\d+)/.exec((await run('dumpe2fs', ['-h', raw])).stdout)?.[1],
      );
      assert.equal(blocks * 4096, 1 << 30, 'the filesystem fills the grown disk');
    }
    assert.equal(await digest(fx.image), before, 'the image is never written');
    if (format === 'qcow2') {
      for (const d of disks)
        assert.ok((await stat(d)).blocks * 512 < 8 << 20, 'an overlay, not a copy');
    }
    const mounts = await readFile('/proc/self/mounts', 'utf8');
    assert.ok(!mounts.includes(fx.dir), 'no FUSE export is left mounted');
  });
}

test('a failed root disk leaves nothing behind', async () => {
  await using fx = await fixture();
  const vmDir = join(fx.dir, 'vm');
  await mkdir(vmDir);
  for (const files of [
    [{ guestPath: '/etc/x', hostPath: join(fx.dir, 'missing') }],
    [{ guestPath: '/etc/bad\nname', content: 'x' }],
    [{ guestPath: '/etc/../../x', content: 'x' }],
    // debugfs cannot replace a directory with a file, goes on, and exits 0: only the check
    // after the writes catches it.
    [
      { guestPath: '/etc/hostname', content: 'f\n' },
      { guestPath: '/etc', content: 'x' },
    ],
  ]) {
    await assert.rejects(
      createRootDisk({
        imagePath: fx.image,
        vmDir,
        format: 'qcow2',
        sizeBytes: 1 << 28,
        label: 'vm "f"',
        files,
      }),
      /^AppError: vm "f": /,
    );
    assert.deepEqual(await readdir(vmDir), []);
  }
  assert.ok(!(await readFile('/proc/self/mounts', 'utf8')).includes(fx.dir));
});
