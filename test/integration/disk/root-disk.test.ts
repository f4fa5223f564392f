import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run } from '../../../src/system/exec.js';
import {
  createOverlay,
  createRootDisk,
  vmGuestFiles,
} from '../../../src/vmm/disk/create-root-disk.js';
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

const variants = [
  { format: 'qcow2', grownBase: false },
  { format: 'qcow2', grownBase: true },
  { format: 'raw', grownBase: false },
] as const;

for (const { format, grownBase } of variants) {
  const how = grownBase ? ' (copies of a grown base)' : '';
  test(`${format} root disk${how}: the image untouched, grown, with the VM's files written in`, async () => {
    await using fx = await fixture();
    const baseDir = join(fx.dir, 'bases');
    await mkdir(baseDir);
    const before = await digest(fx.image);
    await writeFile(join(fx.dir, 'copied'), 'copied file\n', { mode: 0o640 });
    const disks: string[] = [];
    for (const vm of ['a', 'b']) {
      // A data dir's path may hold spaces: nothing of it goes through debugfs's command parser.
      const vmDir = join(fx.dir, `vm ${vm}`);
      await mkdir(vmDir);
      const d = await createRootDisk({
        imagePath: fx.image,
        vmDir,
        format,
        sizeBytes: 1 << 30,
        label: `vm "${vm}"`,
        ...(grownBase ? { grownBaseDir: baseDir } : {}),
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
      assert.deepEqual(await readdir(vmDir), [basename(d.path)], 'nothing else in its directory');
      if (format === 'qcow2') assert.equal(await backingOf(d.path), fx.image);
    }
    // The first VM made the base; the second copied it, and it keeps no VM's files.
    assert.deepEqual(await readdir(baseDir), grownBase ? [`grown-${1 << 30}.qcow2`] : []);
    if (grownBase) {
      const base = await rawView(join(baseDir, `grown-${1 << 30}.qcow2`), 'qcow2', fx.dir);
      assert.doesNotMatch((await run('debugfs', ['-R', 'ls /etc', base])).stdout, /hostname/);
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

const backingOf = async (qcow2: string) =>
  (
    JSON.parse((await run('qemu-img', ['info', '--output=json', qcow2])).stdout) as {
      'backing-filename'?: string;
    }
  )['backing-filename'];

test('a grown base made over another path, or unusable, is not what a disk copies', async () => {
  await using fx = await fixture();
  const baseDir = join(fx.dir, 'bases');
  await mkdir(baseDir);
  const base = join(baseDir, `grown-${1 << 28}.qcow2`);
  // As left by a data directory that was moved: the same name, over an image not there.
  const moved = join(fx.dir, 'moved.ext4');
  await writeFile(moved, await readFile(fx.image));
  await createOverlay(moved, base, 1 << 28);
  await rm(moved);
  const vmDir = join(fx.dir, 'a');
  await mkdir(vmDir);
  const req = {
    imagePath: fx.image,
    format: 'qcow2' as const,
    sizeBytes: 1 << 28,
    files: [{ guestPath: '/etc/hostname', content: 'a\n' }],
  };
  const a = await createRootDisk({ ...req, vmDir, label: 'vm "a"', grownBaseDir: baseDir });
  assert.equal(await backingOf(a.path), fx.image);
  assert.equal(await backingOf(base), fx.image, 'the base was made again');
  assert.deepEqual(await readdir(vmDir), [basename(a.path)]);
  // A base directory that is not one: the disk is still made, from a base of its own.
  const bVmDir = join(fx.dir, 'b');
  await mkdir(bVmDir);
  const notDir = join(fx.dir, 'not-a-dir');
  await writeFile(notDir, '');
  const b = await createRootDisk({ ...req, vmDir: bVmDir, label: 'vm "b"', grownBaseDir: notDir });
  assert.equal(await backingOf(b.path), fx.image);
  assert.equal(await readGuestFile(await rawView(b.path, 'qcow2', fx.dir), '/etc/hostname'), 'a\n');
  assert.deepEqual(await readdir(bVmDir), [basename(b.path)], 'its own base is gone');
});

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
