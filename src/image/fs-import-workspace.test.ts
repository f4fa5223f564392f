import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FsImportWorkspace } from './fs-import-workspace.js';

test('a sweep removes the object directories a dead import claimed, unless they hold a stored object', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ws-'));
  try {
    const staging = join(root, '.staging');
    const alive = new Set([1, 3]);
    const isAlive = (p: number) => alive.has(p);
    const ws = new FsImportWorkspace(staging, { pid: 1, isAlive });
    // What imports of processes 2 (now gone) and 3 (still running) left in their directories.
    const deadWork = join(staging, '2-0000');
    const liveWork = join(staging, '3-0000');
    await mkdir(deadWork, { recursive: true });
    await mkdir(liveWork, { recursive: true });
    const stored = join(root, 'kernel', 'a');
    const unstored = join(root, 'kernel', 'b');
    const running = join(root, 'kernel', 'c');
    await ws.claim(deadWork, stored);
    await ws.claim(deadWork, unstored);
    await ws.claim(liveWork, running);
    await writeFile(join(stored, 'metadata.json'), '{}');
    await writeFile(join(unstored, 'vmlinux'), 'x');
    await writeFile(join(running, 'vmlinux'), 'x');

    await ws.sweep();
    assert.deepEqual((await readdir(join(root, 'kernel'))).sort(), ['a', 'c']);
    assert.deepEqual(await readdir(staging), ['3-0000']);
    await assert.rejects(
      ws.claim(liveWork, stored),
      /EEXIST/,
      'a claim never takes an existing directory',
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
