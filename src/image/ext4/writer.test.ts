import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { AppError } from '../../errors.js';
import {
  HOSTILE_LAYERS,
  symlinkAfterDirectory,
  tarOf,
  type LayerEntry,
} from '../../../test/helpers/layer-tar.js';
import { DEFAULT_IMPORT_LIMITS, type ImportLimits } from '../import-limits.js';
import { Ext4Writer } from './writer.js';

const pexec = promisify(execFile);

/** The bytes in odd-sized chunks, so headers and bodies straddle them. */
async function* chunks(buf: Buffer, size = 7000): AsyncGenerator<Buffer> {
  for (let off = 0; off < buf.length; off += size) {
    await Promise.resolve();
    yield buf.subarray(off, off + size);
  }
}

/** Builds an image of `layers` in a fresh directory; the directory goes with the handle. */
async function build(layers: LayerEntry[][], limits: ImportLimits = DEFAULT_IMPORT_LIMITS) {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-ext4-'));
  const path = join(dir, 'image.ext4');
  const w = new Ext4Writer({ path, volumeLabel: 'test', limits });
  try {
    for (const [i, l] of layers.entries())
      await w.addLayer(chunks(tarOf(l)), { label: 'image "test"', digest: `sha256:layer${i}` });
    w.finish();
  } catch (err) {
    w.abort();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return { dir, path, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

async function fsck(path: string): Promise<void> {
  const r = await pexec('e2fsck', ['-fn', path]).catch((e: { stdout: string; code: number }) => e);
  assert.ok(!('code' in r) || r.code === 0, `e2fsck -fn found problems:\n${r.stdout}`);
}

async function debugfs(path: string, cmd: string): Promise<string> {
  const { stdout } = await pexec('debugfs', ['-R', cmd, path]);
  return stdout;
}

/** Names in a directory, with inode numbers and modes from `ls -l`. */
async function ls(
  path: string,
  dir: string,
): Promise<Map<string, { ino: number; mode: number; uid: number }>> {
  const out = new Map<string, { ino: number; mode: number; uid: number }>();
  for (const line of (await debugfs(path, `ls -l ${dir}`)).split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+\((\d+)\)\s+(\d+)\s+(\d+)\s+\d+\s+\S+\s+\S+\s+(.*)$/.exec(line);
    if (m)
      out.set(m[6] ?? '', { ino: Number(m[1]), mode: parseInt(m[2] ?? '0', 8), uid: Number(m[4]) });
  }
  return out;
}

test('files, directories, links, devices, FIFOs, owners and xattrs land in a clean ext4', async () => {
  const big = Buffer.alloc(300_000, 'b');
  const cap = Buffer.from([0, 0, 0, 2, 0x80, 0x30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const longTarget = `/${'t'.repeat(80)}`;
  await using img = await build([
    [
      { name: './', type: 'directory', mode: 0o755 },
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/hostname', body: 'box\n', uid: 1000, gid: 1001, mode: 0o640 },
      { name: 'bin/', type: 'directory' },
      { name: 'bin/ping', body: big, mode: 0o4755, xattrs: { 'security.capability': cap } },
      { name: 'bin/sh', type: 'symlink', linkname: 'busybox' },
      { name: 'bin/long', type: 'symlink', linkname: longTarget },
      { name: 'bin/ping2', type: 'link', linkname: 'bin/ping' },
      { name: 'dev/null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
      { name: 'dev/sda', type: 'block-device', mode: 0o660, devmajor: 8, devminor: 0 },
      { name: 'dev/big', type: 'character-device', devmajor: 300, devminor: 70000 },
      { name: 'run/fifo', type: 'fifo', mode: 0o600 },
      { name: 'empty', body: '' },
      { name: `deep/${'n'.repeat(150)}`, body: 'long name' },
      { name: 'many/', type: 'directory' },
      ...Array.from({ length: 400 }, (_, i) => ({
        name: `many/file-with-a-longish-name-${i}`,
        body: `${i}`,
      })),
    ],
  ]);
  await fsck(img.path);
  assert.equal(await debugfs(img.path, 'cat /etc/hostname'), 'box\n');
  const dumped = join(img.dir, 'ping');
  await debugfs(img.path, `dump /bin/ping ${dumped}`);
  assert.equal((await stat(dumped)).size, big.length);
  const bin = await ls(img.path, '/bin');
  assert.equal(bin.get('ping')?.mode, 0o104755);
  assert.equal(bin.get('ping')?.ino, bin.get('ping2')?.ino);
  assert.match(await debugfs(img.path, 'stat /bin/ping'), /Links: 2/);
  assert.match(await debugfs(img.path, 'stat /bin/sh'), /Fast link dest: "busybox"/);
  assert.match(await debugfs(img.path, 'stat /bin/long'), new RegExp(`Size: ${longTarget.length}`));
  const xattr = await debugfs(img.path, 'ea_get -x /bin/ping security.capability');
  assert.match(xattr.replace(/\s+/g, ' '), /00 00 00 02 80 30 00 00/);
  const etc = await debugfs(img.path, 'stat /etc/hostname');
  assert.match(etc, /User:\s+1000\s+Group:\s+1001/);
  assert.match(etc, /Mode:\s+0640/);
  assert.match(await debugfs(img.path, 'stat /dev/null'), /Device major\/minor number: 01:03/);
  assert.match(await debugfs(img.path, 'stat /dev/big'), /Device major\/minor number: 300:70000/);
  assert.match(await debugfs(img.path, 'stat /run/fifo'), /Type: FIFO/);
  assert.equal((await ls(img.path, '/many')).size, 402);
  assert.equal(await debugfs(img.path, `cat /deep/${'n'.repeat(150)}`), 'long name');
});

test('whiteouts, opaque directories and replacements across layers', async () => {
  await using img = await build([
    [
      { name: 'a/', type: 'directory' },
      { name: 'a/old', body: '1' },
      { name: 'a/sub/keep-not', body: '1' },
      { name: 'b/', type: 'directory' },
      { name: 'b/gone', body: '1' },
      { name: 'b/kept', body: '1' },
      { name: 'link', type: 'symlink', linkname: '/etc/passwd' },
      { name: 'dir-then-file/x', body: '1' },
    ],
    [
      { name: 'a/', type: 'directory', mode: 0o700 },
      { name: 'a/.wh..wh..opq' },
      { name: 'a/new', body: '2' },
      { name: 'b/.wh.gone' },
      { name: 'link', body: 'a file now' },
      { name: 'dir-then-file', body: 'file' },
      { name: 'b/.wh.never-there' },
    ],
  ]);
  await fsck(img.path);
  assert.deepEqual([...(await ls(img.path, '/a')).keys()].sort(), ['.', '..', 'new']);
  assert.equal((await ls(img.path, '/')).get('a')?.mode, 0o40700);
  assert.deepEqual([...(await ls(img.path, '/b')).keys()].sort(), ['.', '..', 'kept']);
  assert.equal(await debugfs(img.path, 'cat /link'), 'a file now');
  assert.equal(await debugfs(img.path, 'cat /dir-then-file'), 'file');
});

for (const [what, entries] of [
  ...HOSTILE_LAYERS,
  ...symlinkAfterDirectory({ file: '/usr/bin/bash', dir: '/etc' }),
]) {
  test(`a hostile layer is rejected and leaves no image: ${what}`, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ignite-ext4-'));
    try {
      const path = join(dir, 'image.ext4');
      const w = new Ext4Writer({ path, volumeLabel: 't', limits: DEFAULT_IMPORT_LIMITS });
      await assert.rejects(
        w
          .addLayer(chunks(tarOf(entries)), { label: 'image "test"', digest: 'sha256:abc' })
          .catch((e: unknown) => {
            w.abort();
            throw e;
          }),
        (e: unknown) =>
          AppError.is(e, 'InvalidArgument') &&
          /image "test": layer sha256:abc/.test(e.message) &&
          /rejected/.test(e.message),
      );
      assert.deepEqual(await readdir(dir), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('the size and entry caps stop a layer while it streams', async () => {
  const limits = { maxBytes: 1_000_000, maxEntries: 50 };
  await assert.rejects(
    build(
      [
        [
          { name: 'a', body: Buffer.alloc(600_000) },
          { name: 'b', body: Buffer.alloc(600_000) },
        ],
      ],
      limits,
    ),
    (e: unknown) =>
      AppError.is(e, 'InvalidArgument') &&
      /import size limit/.test(e.message) &&
      /entry "b"/.test(e.message),
  );
  await assert.rejects(
    build([Array.from({ length: 51 }, (_, i) => ({ name: `f${i}`, body: 'x' }))], limits),
    (e: unknown) => AppError.is(e, 'InvalidArgument') && /more than 50 entries/.test(e.message),
  );
});

test('the image grows with resize2fs and takes debugfs writes, staying clean', async () => {
  await using img = await build([
    [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/os-release', body: 'x\n' },
    ],
  ]);
  await pexec('truncate', ['-s', '3G', img.path]);
  await pexec('resize2fs', ['-f', img.path]);
  await pexec('debugfs', ['-w', '-R', 'mkdir /root', img.path]);
  await fsck(img.path);
  assert.match(await debugfs(img.path, 'stats'), /Block count:\s+786432/);
});
