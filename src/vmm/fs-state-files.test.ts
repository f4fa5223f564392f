import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fsStateFiles as files } from './fs-state-files.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('state-files-', fn);

/** A state as saveState leaves it: its main file, a part, and the sidecar listing both. */
async function writeState(file: string): Promise<void> {
  await writeFile(file, 'main');
  await writeFile(`${file}.mem`, 'memory');
  const parts = [
    { suffix: '', size: 4, sha256: 'x' },
    { suffix: '.mem', size: 6, sha256: 'y' },
  ];
  await writeFile(`${file}.json`, JSON.stringify({ version: 1, parts }));
}

test('a state is there once its sidecar is; link gives it a second name; remove takes every part', () =>
  withDir(async (dir) => {
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    assert.equal(await files.has(a), false);
    await writeState(a);
    assert.equal(await files.has(a), true);
    await files.link(a, b);
    assert.equal(await files.has(b), true);
    assert.equal((await stat(`${b}.mem`)).ino, (await stat(`${a}.mem`)).ino, 'a hard link');
    await files.remove(a);
    assert.deepEqual((await readdir(dir)).sort(), ['b', 'b.json', 'b.mem']);
    assert.equal(await readFile(`${b}.mem`, 'utf8'), 'memory');
    await assert.rejects(files.link(a, join(dir, 'c')), /ENOENT/);
  }));

test('adoptOverlay: the last overlay takes the root disk name, the superseded names go', () =>
  withDir(async (dir) => {
    const root = join(dir, 'rootfs.qcow2');
    const [n1, n2] = [join(dir, 'rootfs.next-1.qcow2'), join(dir, 'rootfs.next-2.qcow2')];
    await writeFile(root, 'frozen-0');
    await writeFile(n1, 'frozen-1');
    await writeFile(n2, 'live');
    await files.adoptOverlay(root, n2, [root, n1]);
    assert.deepEqual(await readdir(dir), ['rootfs.qcow2']);
    assert.equal(await readFile(root, 'utf8'), 'live');
    await files.adoptOverlay(root, root, []);
    assert.equal(await readFile(root, 'utf8'), 'live');
  }));

test('dirUsage counts the files of a directory; removeDir removes it, and is idempotent', () =>
  withDir(async (dir) => {
    const snap = join(dir, 'snap');
    assert.equal(await files.dirUsage(snap), 0);
    await writeState(join(dir, 'x'));
    await files.removeDir(snap);
    await writeFile(join(dir, 'big'), Buffer.alloc(64 * 1024, 1));
    assert.ok((await files.dirUsage(dir)) >= 64 * 1024);
    await files.removeDir(dir);
    await files.removeDir(dir);
    await assert.rejects(stat(dir), /ENOENT/);
  }));
