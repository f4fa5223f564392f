import {
  mkdtemp,
  mkdir,
  readdir,
  readFile,
  lstat,
  readlink,
  rm,
  writeFile,
  stat,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { pack, type Header } from 'tar-stream';
import { AppError } from '../errors.js';
import { applyLayer } from './layer-unpacker.js';

type Entry = Partial<Header> & { name: string; body?: string };

async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => void chunks.push(c as Buffer));
  const done = new Promise<void>((r) => p.on('end', () => r()));
  for (const e of entries) {
    const { body, ...header } = e;
    await new Promise<void>((resolve, reject) =>
      p.entry({ type: 'file', mode: 0o644, ...header }, body ?? '', (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A sandbox: `root` is the image root inside `parent`, so escapes would land in `parent`. */
async function sandbox(): Promise<{ parent: string; root: string } & AsyncDisposable> {
  const parent = await mkdtemp(join(tmpdir(), 'ignite-unpack-'));
  const root = join(parent, 'rootfs');
  await mkdir(root);
  return {
    parent,
    root,
    [Symbol.asyncDispose]: () => rm(parent, { recursive: true, force: true }),
  };
}

const opts = { label: 'image "test"', digest: 'sha256:abc', privileged: false };

async function apply(
  root: string,
  entries: Entry[],
  compression: 'none' | 'gzip' | 'zstd' = 'none',
): Promise<void> {
  const file = join(root, '..', `layer-${Math.random()}.tar`);
  const tar = await tarOf(entries);
  if (compression === 'zstd') {
    await writeFile(`${file}.raw`, tar);
    await promisify(execFile)('zstd', ['-q', '-f', `${file}.raw`, '-o', file]);
    await rm(`${file}.raw`);
  } else {
    await writeFile(file, compression === 'gzip' ? gzipSync(tar) : tar);
  }
  try {
    await applyLayer(root, file, opts);
  } finally {
    await rm(file, { force: true });
  }
}

const HOSTILE: [string, Entry[]][] = [
  ['../x', [{ name: '../x', body: 'escaped' }]],
  ['/etc/x', [{ name: '/etc/x', body: 'escaped' }]],
  [
    'a symlink to / then a write through it',
    [
      { name: 'evil', type: 'symlink', linkname: '/' },
      { name: 'evil/escaped', body: 'escaped' },
    ],
  ],
  [
    'a symlink to .. then a write through it',
    [
      { name: 'up', type: 'symlink', linkname: '..' },
      { name: 'up/escaped', body: 'escaped' },
    ],
  ],
  [
    'a chain of symlinks to outside',
    [
      { name: 'd', type: 'directory', mode: 0o755 },
      { name: 'd/l', type: 'symlink', linkname: '../..' },
      { name: 'd/l/escaped', body: 'x' },
    ],
  ],
  ['a hardlink to /etc/passwd', [{ name: 'pw', type: 'link', linkname: '/etc/passwd' }]],
  ['a hardlink to ../../etc/passwd', [{ name: 'pw', type: 'link', linkname: '../../etc/passwd' }]],
  [
    'a hardlink through a symlink',
    [
      { name: 'etc', type: 'symlink', linkname: '/etc' },
      { name: 'pw', type: 'link', linkname: 'etc/passwd' },
    ],
  ],
  ['a whiteout of ../', [{ name: '../.wh.rootfs' }]],
  ['a whiteout named ..', [{ name: 'a/.wh...' }]],
];

for (const [what, entries] of HOSTILE) {
  test(`a hostile layer is rejected and writes nothing outside the root: ${what}`, async () => {
    await using sb = await sandbox();
    await writeFile(join(sb.parent, 'sentinel'), 'keep');
    await assert.rejects(
      apply(sb.root, entries),
      (e: unknown) =>
        AppError.is(e, 'InvalidArgument') &&
        /layer sha256:abc/.test(e.message) &&
        /rejected/.test(e.message),
    );
    assert.deepEqual((await readdir(sb.parent)).sort(), ['rootfs', 'sentinel']);
    assert.equal(await readFile(join(sb.parent, 'sentinel'), 'utf8'), 'keep');
    await assert.rejects(stat('/escaped'));
    await assert.rejects(stat('/etc/x'));
  });
}

test('files, dirs, symlinks, hardlinks and modes are applied', async () => {
  await using sb = await sandbox();
  await apply(
    sb.root,
    [
      { name: './etc/', type: 'directory', mode: 0o755 },
      { name: './etc/hostname', body: 'box\n', mode: 0o644 },
      { name: 'bin/', type: 'directory', mode: 0o755 },
      { name: 'bin/tool', body: '#!/bin/sh\n', mode: 0o4755 },
      { name: 'bin/sh', type: 'symlink', linkname: '/bin/busybox' },
      { name: 'bin/tool2', type: 'link', linkname: 'bin/tool' },
      { name: 'ro/', type: 'directory', mode: 0o555 },
      { name: 'ro/inside', body: 'x' },
    ],
    'gzip',
  );
  assert.equal(await readFile(join(sb.root, 'etc/hostname'), 'utf8'), 'box\n');
  assert.equal((await stat(join(sb.root, 'bin/tool'))).mode & 0o7777, 0o4755);
  assert.equal(await readlink(join(sb.root, 'bin/sh')), '/bin/busybox');
  assert.equal(
    (await stat(join(sb.root, 'bin/tool2'))).ino,
    (await stat(join(sb.root, 'bin/tool'))).ino,
  );
  assert.equal((await stat(join(sb.root, 'ro'))).mode & 0o777, 0o555);
  assert.equal(await readFile(join(sb.root, 'ro/inside'), 'utf8'), 'x');
});

test('whiteouts delete lower-layer entries; an opaque dir hides them but keeps its own', async () => {
  await using sb = await sandbox();
  await apply(sb.root, [
    { name: 'a/', type: 'directory', mode: 0o755 },
    { name: 'a/old', body: '1' },
    { name: 'b/', type: 'directory', mode: 0o755 },
    { name: 'b/gone', body: '1' },
    { name: 'b/kept', body: '1' },
    { name: 'link', type: 'symlink', linkname: '/etc/passwd' },
  ]);
  await apply(sb.root, [
    { name: 'a/.wh..wh..opq' },
    { name: 'a/new', body: '2' },
    { name: 'b/.wh.gone' },
    { name: 'link', body: 'a file now' },
  ]);
  assert.deepEqual(await readdir(join(sb.root, 'a')), ['new']);
  assert.deepEqual(await readdir(join(sb.root, 'b')), ['kept']);
  assert.ok(
    (await lstat(join(sb.root, 'link'))).isFile(),
    'the symlink was replaced, not followed',
  );
  assert.notEqual(await readFile('/etc/passwd', 'utf8'), 'a file now');
});

test('zstd and uncompressed layers apply in order', async () => {
  await using sb = await sandbox();
  await apply(
    sb.root,
    [
      { name: 'etc/', type: 'directory', mode: 0o755 },
      { name: 'etc/a', body: 'zstd layer' },
    ],
    'zstd',
  );
  await apply(sb.root, [{ name: 'etc/b', body: 'plain layer' }], 'none');
  assert.equal(await readFile(join(sb.root, 'etc/a'), 'utf8'), 'zstd layer');
  assert.equal(await readFile(join(sb.root, 'etc/b'), 'utf8'), 'plain layer');
});
