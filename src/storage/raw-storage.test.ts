import { mkdtemp, rm, readdir, rename, stat, mkdir, utimes, writeFile } from 'node:fs/promises';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawStorageSuite } from '../../test/suites/raw-storage.suite.js';
import { FsRawStorage } from './fs-raw-storage.js';
import { MemoryRawStorage } from './memory-raw-storage.js';
import type { RawWatchEvent } from './raw-storage.js';
import { tempDataDir } from '../../test/helpers/data-dir.js';

rawStorageSuite('MemoryRawStorage', () =>
  Promise.resolve({ raw: new MemoryRawStorage(), cleanup: () => Promise.resolve() }),
);

rawStorageSuite('FsRawStorage', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-raw-'));
  return {
    raw: new FsRawStorage(dir, { watchIntervalMs: 50 }),
    another: () => new FsRawStorage(dir, { watchIntervalMs: 50 }),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test('FsRawStorage lays objects out as <dataDir>/<kind>/<uid>/metadata.json with tight modes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-raw-'));
  try {
    const raw = new FsRawStorage(dir);
    await raw.write({ kind: 'Kernel', uid: '0123456789abcdef' }, Buffer.from('{}'));
    const file = join(dir, 'kernel', '0123456789abcdef', 'metadata.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'kernel', '0123456789abcdef'))).mode & 0o777, 0o700);
    // No temp files remain after a write.
    assert.deepEqual(await readdir(join(dir, 'kernel', '0123456789abcdef')), ['metadata.json']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('FsRawStorage does not list half-made objects and sweeps interrupted deletes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-raw-'));
  try {
    const raw = new FsRawStorage(dir);
    await mkdir(join(dir, 'vm', '0123456789abcdef'), { recursive: true }); // no metadata.json yet
    await mkdir(join(dir, 'vm', '.trash-fedcba9876543210-0000'), { recursive: true });
    await writeFile(join(dir, 'vm', '.trash-fedcba9876543210-0000', 'metadata.json'), '{}');
    assert.deepEqual(await raw.readAll('VM'), []);
    assert.deepEqual((await readdir(join(dir, 'vm'))).sort(), ['0123456789abcdef']);
    await mkdir(join(dir, 'vm', '.trash-fedcba9876543210-0001'), { recursive: true });
    assert.deepEqual(await raw.list('VM'), []);
    assert.deepEqual((await readdir(join(dir, 'vm'))).sort(), ['0123456789abcdef']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('FsRawStorage sweeps objects whose first write was killed, and nothing that someone holds', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-raw-'));
  try {
    const raw = new FsRawStorage(dir);
    const dead = spawnSync('true').pid ?? 0;
    const mk = async (uid: string, files: string[]) => {
      await mkdir(join(dir, 'vm', uid), { recursive: true });
      for (const f of files) await writeFile(join(dir, 'vm', uid, f), 'x');
    };
    await mk('000000000000000a', [`.metadata.json.${dead}.0a0b0c0d`]);
    await mk('000000000000000b', [`.metadata.json.${process.pid}.0a0b0c0d`]);
    await mk('000000000000000c', ['spawn.log']);
    await mk('000000000000000d', []);
    assert.deepEqual(await raw.readAll('VM'), []);
    assert.deepEqual((await readdir(join(dir, 'vm'))).sort(), [
      '000000000000000b',
      '000000000000000c',
      '000000000000000d',
    ]);
    await utimes(join(dir, 'vm', '000000000000000d'), 0, 0);
    assert.deepEqual(await raw.list('VM'), []);
    assert.deepEqual((await readdir(join(dir, 'vm'))).sort(), [
      '000000000000000b',
      '000000000000000c',
    ]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("FsRawStorage makes a new object's directory whole: a writer killed at any point leaves none half-made", async () => {
  await using d = await tempDataDir();
  const dir = d.path;
  const worker = join(import.meta.dirname, '../../test/helpers/new-objects-worker.ts');
  for (let round = 0; round < 8; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', worker, dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await once(child.stdout, 'data');
    // Killed somewhere inside a write: each takes a fraction of a millisecond to a few.
    await new Promise((r) => setTimeout(r, 20 + round * 7));
    child.kill('SIGKILL');
    await once(child, 'exit');
    const vmDir = join(dir, 'vm');
    for (const e of await readdir(vmDir)) {
      if (e.startsWith('.')) continue;
      assert.deepEqual(await readdir(join(vmDir, e)), ['metadata.json'], `round ${round}: ${e}`);
    }
  }
  const raw = new FsRawStorage(dir);
  const listed = await raw.list('VM');
  assert.ok(listed.length >= 8, `${listed.length} objects written`);
  // What the killed writers were filling is swept, with them gone.
  const left = (await readdir(join(dir, 'vm'))).filter((e) => e.startsWith('.'));
  assert.deepEqual(left, []);
});

test("FsRawStorage sweeps a new object's directory only once its writer is gone", async () => {
  await using d = await tempDataDir();
  const dir = d.path;
  const raw = new FsRawStorage(dir);
  const dead = spawnSync('true').pid ?? 0;
  const gone = `.new-000000000000000a.${dead}.0a0b0c0d`;
  const filling = `.new-000000000000000b.${process.pid}.0a0b0c0d`;
  for (const name of [gone, filling]) {
    await mkdir(join(dir, 'vm', name), { recursive: true });
    await writeFile(join(dir, 'vm', name, 'metadata.json'), '{}');
  }
  assert.deepEqual(await raw.readAll('VM'), []);
  assert.deepEqual(await readdir(join(dir, 'vm')), [filling]);
  // A directory someone made for the object first keeps what is in it.
  await mkdir(join(dir, 'vm', '000000000000000c'));
  await writeFile(join(dir, 'vm', '000000000000000c', 'spawn.log'), 'x');
  await raw.write({ kind: 'VM', uid: '000000000000000c' }, Buffer.from('{}'));
  assert.deepEqual((await readdir(join(dir, 'vm', '000000000000000c'))).sort(), [
    'metadata.json',
    'spawn.log',
  ]);
});

test('FsRawStorage refuses keys that are not UIDs, so no key can name a path outside the store', () => {
  const raw = new FsRawStorage('/nonexistent');
  assert.throws(() => raw.objectDir({ kind: 'VM', uid: '../../etc' }), /not a valid uid/);
});

const seen = (events: RawWatchEvent[]) =>
  events.map((e) => `${e.type} ${e.key.uid} ${e.data.toString()}`);

async function until(cond: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
}

test('FsRawStorage watch is woken by inotify long before its next poll', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-raw-'));
  const raw = new FsRawStorage(dir, { watchIntervalMs: 60_000 });
  const other = new FsRawStorage(dir);
  const events: RawWatchEvent[] = [];
  const w = raw.watch('VM', (e) => events.push(e));
  try {
    await w.ready;
    const uid = '0123456789abcdef';
    await other.write({ kind: 'VM', uid }, Buffer.from('one'));
    await until(() => events.length >= 1, 3000);
    await other.write({ kind: 'VM', uid }, Buffer.from('two'));
    await until(() => events.length >= 2, 3000);
    await other.delete({ kind: 'VM', uid });
    await until(() => events.length >= 3, 3000);
    assert.deepEqual(seen(events), [
      `ADDED ${uid} one`,
      `MODIFIED ${uid} two`,
      `DELETED ${uid} two`,
    ]);
  } finally {
    w.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('FsRawStorage watch reports no half-written object, and reports it once renamed into place', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-raw-'));
  const raw = new FsRawStorage(dir, { watchIntervalMs: 20 });
  const events: RawWatchEvent[] = [];
  const w = raw.watch('VM', (e) => events.push(e));
  try {
    await w.ready;
    const uid = '0123456789abcdef';
    const objDir = join(dir, 'vm', uid);
    const tmp = join(objDir, `.metadata.json.${process.pid}.0a0b0c0d`);
    await mkdir(objDir, { recursive: true });
    await writeFile(tmp, '{"half":');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(seen(events), []);
    await writeFile(tmp, '{"half":false}');
    await rename(tmp, join(objDir, 'metadata.json'));
    await until(() => events.length >= 1, 3000);
    assert.deepEqual(seen(events), [`ADDED ${uid} {"half":false}`]);
  } finally {
    w.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('FsRawStorage watch releases its timer and inotify watches when closed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-raw-'));
  const count = (what: string) => process.getActiveResourcesInfo().filter((r) => r === what).length;
  try {
    const raw = new FsRawStorage(dir, { watchIntervalMs: 30 });
    await raw.write({ kind: 'VM', uid: '0123456789abcdef' }, Buffer.from('a'));
    const before = { fs: count('FSEventWrap'), timers: count('Timeout') };
    const w = raw.watch('VM', () => undefined);
    await w.ready;
    await new Promise((r) => setTimeout(r, 100));
    // The kind's directory and the one object's.
    assert.equal(count('FSEventWrap'), before.fs + 2);
    w.close();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(count('FSEventWrap'), before.fs);
    assert.equal(count('Timeout'), before.timers);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
