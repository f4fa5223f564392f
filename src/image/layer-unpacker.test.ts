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
import {
  HOSTILE_LAYERS,
  symlinkAfterDirectory,
  tarOf,
  type LayerEntry,
} from '../../test/helpers/layer-tar.js';
import { AppError } from '../errors.js';
import { applyLayer } from './layer-unpacker.js';

type Entry = LayerEntry;

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
  privileged = false,
): Promise<void> {
  const file = join(root, '..', `layer-${Math.random()}.tar`);
  const tar = tarOf(entries);
  if (compression === 'zstd') {
    await writeFile(`${file}.raw`, tar);
    await promisify(execFile)('zstd', ['-q', '-f', `${file}.raw`, '-o', file]);
    await rm(`${file}.raw`);
  } else {
    await writeFile(file, compression === 'gzip' ? gzipSync(tar) : tar);
  }
  try {
    await applyLayer(root, file, { ...opts, privileged });
  } finally {
    await rm(file, { force: true });
  }
}

// The same table runs against the ext4 writer (ext4/writer.test.ts).
for (const [what, entries] of HOSTILE_LAYERS) {
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

/**
 * A host file and directory outside the root, for layers that try to change their metadata
 * through a symlink that replaces a directory whose mode, owner or times were queued.
 */
async function hostVictims(parent: string) {
  const file = join(parent, 'bash');
  const dir = join(parent, 'etc');
  await writeFile(file, '#!/bin/sh\n', { mode: 0o755 });
  await mkdir(join(dir, 'shadow'), { recursive: true, mode: 0o755 });
  const snapshot = async () =>
    Promise.all(
      [file, dir, join(dir, 'shadow')].map(async (p) => {
        const st = await lstat(p);
        return { p, mode: st.mode, uid: st.uid, gid: st.gid, mtime: st.mtimeMs };
      }),
    );
  return { file, dir, before: await snapshot(), snapshot };
}

const old = new Date('2001-01-01T00:00:00Z');

test('a directory replaced by a symlink in the same layer is rejected, and its mode, owner and times reach nothing outside', async () => {
  // Owners are applied only by a privileged (root) import, which is the case that could chown host files.
  assert.equal(
    process.getuid?.(),
    0,
    'this test needs root: it checks that chown never reaches the host',
  );
  for (const privileged of [false, true]) {
    await using sb = await sandbox();
    const v = await hostVictims(sb.parent);
    for (const [, entries] of symlinkAfterDirectory(v)) {
      await assert.rejects(
        apply(sb.root, entries, 'none', privileged),
        (e: unknown) => AppError.is(e, 'InvalidArgument') && /rejected/.test(e.message),
      );
      assert.deepEqual(await v.snapshot(), v.before);
    }
    // A whiteout in the same layer forgets the directory's queued metadata with the directory.
    await apply(
      sb.root,
      [
        { name: 'w/', type: 'directory', mode: 0o755 },
        { name: 'w/shadow/', type: 'directory', mode: 0o777, uid: 1234, mtime: old },
        { name: 'w/.wh.shadow' },
        { name: 'w/shadow', type: 'symlink', linkname: join(v.dir, 'shadow') },
      ],
      'none',
      privileged,
    );
    assert.equal(await readlink(join(sb.root, 'w/shadow')), join(v.dir, 'shadow'));
    assert.deepEqual(await v.snapshot(), v.before);
  }
});

test('across layers, a symlink and a directory replace each other without touching what the symlink names', async () => {
  assert.equal(
    process.getuid?.(),
    0,
    'this test needs root: it checks that chown never reaches the host',
  );
  await using sb = await sandbox();
  const v = await hostVictims(sb.parent);
  // Layer 1 sets the directory's metadata; layer 2 turns it into a symlink to the host (allowed
  // across layers, as in a usrmerge); layer 3 puts a directory back with new metadata.
  await apply(
    sb.root,
    [{ name: 'x/', type: 'directory', mode: 0o4777, uid: 1234, mtime: old }],
    'none',
    true,
  );
  await apply(sb.root, [{ name: 'x', type: 'symlink', linkname: v.file }], 'none', true);
  assert.equal(await readlink(join(sb.root, 'x')), v.file);
  await apply(
    sb.root,
    [
      { name: 'x/', type: 'directory', mode: 0o4777, uid: 1234, mtime: old },
      { name: 'y', type: 'symlink', linkname: v.dir },
      { name: 'y/', type: 'directory', mode: 0o777, uid: 1234, mtime: old },
    ],
    'none',
    true,
  );
  assert.ok((await lstat(join(sb.root, 'x'))).isDirectory());
  assert.equal((await lstat(join(sb.root, 'x'))).uid, 1234);
  assert.ok((await lstat(join(sb.root, 'y'))).isDirectory());
  assert.deepEqual(await v.snapshot(), v.before);
});

test('FIFOs and devices are skipped by an unprivileged import', async () => {
  await using sb = await sandbox();
  await apply(sb.root, [
    { name: 'p', type: 'fifo', mode: 0o644 },
    { name: 'null', type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 },
    { name: 'f', body: 'x' },
  ]);
  assert.deepEqual((await readdir(sb.root)).sort(), ['f']);
});
