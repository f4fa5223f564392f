import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeHostDirectories as dirs } from './node-host-dirs.js';

const yaml = (path: string) => path.endsWith('.yaml');

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await mkdtemp(join(tmpdir(), 'ignite-dirs-'));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

test('readFiles: files in subdirectories, by relative path; hidden and unmatched passed over', async () => {
  await using d = await tempDir();
  const outside = await mkdtemp(join(tmpdir(), 'ignite-dirs-out-'));
  try {
    await mkdir(join(d.path, 'team', 'deep'), { recursive: true });
    await mkdir(join(d.path, '.git'));
    await writeFile(join(d.path, 'a.yaml'), 'a');
    await writeFile(join(d.path, 'team', 'deep', 'b.yaml'), 'b');
    await writeFile(join(d.path, 'notes.txt'), 'not read');
    await writeFile(join(d.path, '.hidden.yaml'), 'hidden');
    await writeFile(join(d.path, '.git', 'c.yaml'), 'in a hidden directory');
    await writeFile(join(d.path, 'big.yaml'), 'x'.repeat(100));
    // A symlink to a file is read as the file; one to a directory is not followed (no loops).
    await writeFile(join(outside, 'linked.yaml'), 'linked');
    await symlink(join(outside, 'linked.yaml'), join(d.path, 'link.yaml'));
    await symlink(outside, join(d.path, 'elsewhere'));
    await symlink(d.path, join(d.path, 'team', 'loop'));
    await symlink(join(d.path, 'gone.yaml'), join(d.path, 'dangling.yaml'));

    const got = await dirs.readFiles(d.path, { match: yaml, maxBytes: 50 });
    assert.deepEqual(got.files, [
      { path: 'a.yaml', text: 'a' },
      { path: 'link.yaml', text: 'linked' },
      { path: 'team/deep/b.yaml', text: 'b' },
    ]);
    assert.deepEqual(got.unreadable, [{ path: 'big.yaml', reason: 'larger than 50 bytes' }]);
  } finally {
    await rm(outside, { recursive: true, force: true });
  }
});

test('readFiles: a directory that cannot be read throws Unavailable', async () => {
  await using d = await tempDir();
  await assert.rejects(dirs.readFiles(join(d.path, 'missing'), { match: yaml, maxBytes: 50 }), {
    code: 'Unavailable',
    message: /missing: cannot read: ENOENT/,
  });
  await writeFile(join(d.path, 'file'), '');
  await assert.rejects(dirs.readFiles(join(d.path, 'file'), { match: yaml, maxBytes: 50 }), {
    code: 'Unavailable',
  });
});

test('watch: a write in a subdirectory is told; close ends it', async () => {
  await using d = await tempDir();
  await mkdir(join(d.path, 'sub'));
  let changes = 0;
  let told: () => void = () => undefined;
  const errors: Error[] = [];
  const w = dirs.watch(
    d.path,
    () => {
      changes++;
      told();
    },
    (err) => errors.push(err),
  );
  try {
    const seen = new Promise<void>((resolve) => (told = resolve));
    await writeFile(join(d.path, 'sub', 'web.yaml'), 'x');
    await Promise.race([
      seen,
      new Promise((_, reject) => setTimeout(() => reject(new Error('no event in 5 s')), 5000)),
    ]);
    assert.ok(changes >= 1);
  } finally {
    w.close();
  }
  const after = changes;
  await writeFile(join(d.path, 'later.yaml'), 'x');
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(changes, after, 'nothing after close');
  assert.deepEqual(errors, []);
});

test('watch: a directory that does not exist reports an error instead of throwing', () => {
  const errors: Error[] = [];
  const w = dirs.watch(
    '/nonexistent/ignite-test',
    () => undefined,
    (err) => errors.push(err),
  );
  w.close();
  assert.equal(errors.length, 1);
});
