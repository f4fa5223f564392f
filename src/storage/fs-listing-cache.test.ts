import { execFile, spawnSync } from 'node:child_process';
import {
  chmod,
  chown,
  mkdir,
  readdir,
  lstat,
  mkdtemp,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newUID, type APIObject, type DecodeOptions, type VM } from '../api/index.js';
import { vm } from '../../test/helpers/objects.js';
import { FsListingCache, listingCacheDecoder } from './fs-listing-cache.js';
import { FsRawStorage } from './fs-raw-storage.js';
import { Serializer } from './serializer.js';
import { GenericStorage } from './storage.js';

const ROOT = join(import.meta.dirname, '../..');
const LATER = () => Date.now() + 60_000;

class CountingSerializer extends Serializer {
  decoded = 0;
  override decode(data: Buffer | string, options?: DecodeOptions): APIObject {
    this.decoded++;
    return super.decode(data, options);
  }
}

/** A data dir and a way to open it as a process would: its own cache, counting its decodes. */
async function store() {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-listing-'));
  const open = (o: { decoder?: string; nowMs?: () => number } = {}) => {
    const serializer = new CountingSerializer();
    const inner = new GenericStorage(new FsRawStorage(dir), serializer);
    const storage = new FsListingCache(inner, dir, o.decoder ?? 'test', o.nowMs ?? LATER);
    return { storage, inner, decodes: () => serializer.decoded };
  };
  return { dir, open, [Symbol.asyncDispose]: () => rm(dir, { recursive: true, force: true }) };
}

function aVM(name: string, labels: Record<string, string> = {}): VM {
  const v = vm(name);
  v.metadata.uid = newUID();
  v.metadata.labels = labels;
  return v;
}

/** What a listing returns, by what identifies it. */
const names = (objs: APIObject[]) =>
  objs.map((o) => `${o.metadata.name}:${JSON.stringify(o.metadata.labels)}`);

test('a second listing takes every unchanged object from the cache, equal to what decoding gives', async () => {
  await using s = await store();
  const writer = s.open();
  for (const n of ['a', 'b', 'c']) await writer.storage.set(aVM(n));
  const first = await writer.storage.entries('VM');
  assert.equal(writer.decodes(), 3);
  const again = s.open();
  const second = await again.storage.entries('VM');
  assert.equal(again.decodes(), 0);
  assert.deepStrictEqual(second, first);
  assert.deepStrictEqual(second, await again.inner.entries('VM'));
  assert.equal((await stat(join(s.dir, '.cache', 'listing-vm.json'))).mode & 0o777, 0o600);
  assert.equal((await stat(join(s.dir, '.cache'))).mode & 0o777, 0o700);
});

test('a changed, removed or new object is read from its file, never served stale', async () => {
  await using s = await store();
  const w = s.open();
  const [a, b] = [aVM('a', { v: '1' }), aVM('b')];
  for (const v of [a, b]) await w.storage.set(v);
  await w.storage.list('VM');
  // The same length of bytes, in the same clock tick: only the file's identity tells them apart.
  a.metadata.labels = { v: '2' };
  await w.storage.set(a);
  const reader = s.open();
  assert.deepEqual(names(await reader.storage.list('VM')).sort(), ['a:{"v":"2"}', 'b:{}']);
  assert.equal(reader.decodes(), 1);
  await w.storage.delete('VM', b.metadata.uid ?? '');
  const c = aVM('c');
  await w.storage.set(c);
  const next = s.open();
  const listed = await next.storage.list('VM');
  assert.deepEqual(listed.map((o) => o.metadata.name).sort(), ['a', 'c']);
  assert.equal(next.decodes(), 1);
  assert.deepStrictEqual(listed, await next.inner.list('VM'));
  const cache = await readFile(join(s.dir, '.cache', 'listing-vm.json'), 'utf8');
  assert.ok(!cache.includes(b.metadata.uid ?? '-') && cache.includes(c.metadata.uid ?? '-'));
  // The cache keeps out of the kind's directory, and goes with the kind's last object.
  assert.deepEqual(
    (await readdir(join(s.dir, 'vm'))).sort(),
    [a, c].map((v) => v.metadata.uid).sort(),
  );
  for (const v of [a, c]) await w.storage.delete('VM', v.metadata.uid ?? '');
  assert.deepEqual(await s.open().storage.list('VM'), []);
  assert.deepEqual(await readdir(join(s.dir, '.cache')), []);
});

test('what a killed create or rm left in the kind is swept by a listing, cached or not', async () => {
  await using s = await store();
  const w = s.open();
  for (const n of ['a', 'b']) await w.storage.set(aVM(n));
  await w.storage.list('VM');
  const dead = spawnSync('true').pid ?? 0;
  const leftovers = [`.new-000000000000000a.${dead}.0a0b0c0d`, '.trash-000000000000000b-0a0b0c0d'];
  for (const d of leftovers) {
    await mkdir(join(s.dir, 'vm', d));
    await writeFile(join(s.dir, 'vm', d, 'metadata.json'), '{}');
  }
  const reader = s.open();
  assert.deepEqual((await reader.storage.list('VM')).map((o) => o.metadata.name).sort(), [
    'a',
    'b',
  ]);
  assert.equal(reader.decodes(), 0, 'still served from the cache');
  assert.deepEqual(
    (await readdir(join(s.dir, 'vm'))).filter((e) => e.startsWith('.')),
    [],
  );
});

test('objects changed too recently to tell apart by identity are not cached', async () => {
  await using s = await store();
  // A clock that has not yet moved past the write, however slow this host is.
  const w = s.open({ nowMs: () => Date.now() - 60_000 });
  await w.storage.set(aVM('a'));
  await w.storage.list('VM');
  await w.storage.list('VM');
  assert.equal(w.decodes(), 2);
});

test('a corrupt cache, one of another decoder, or one others could write or read is ignored', async () => {
  await using s = await store();
  await s.open().storage.set(aVM('a'));
  await s.open().storage.list('VM');
  const file = join(s.dir, '.cache', 'listing-vm.json');
  const good = await readFile(file, 'utf8');
  /** How many objects were not taken from the cache (read and decoded), checking the listing. */
  const decodedBy = async (o: { decoder?: string } = {}) => {
    const p = s.open(o);
    const listed = await p.storage.list('VM');
    const decoded = p.decodes();
    assert.deepStrictEqual(listed, await p.inner.list('VM'));
    return decoded;
  };
  const doc = JSON.parse(good) as { entries: Record<string, [string, unknown]> };
  const damaged = (form: unknown) => {
    const [uid = '', [id = ''] = []] = Object.entries(doc.entries)[0] ?? [];
    return JSON.stringify({ ...doc, entries: { [uid]: [id, form] } });
  };
  assert.equal(await decodedBy(), 0, 'taken from the cache');
  assert.equal(await decodedBy({ decoder: 'another build' }), 1);
  await writeFile(file, good.slice(0, good.length / 2), { mode: 0o600 });
  assert.equal(await decodedBy(), 1, 'a truncated file');
  await writeFile(file, damaged('{"json":'), { mode: 0o600 });
  assert.equal(await decodedBy(), 1, 'an entry that is not a form');
  await writeFile(file, damaged({ json: {}, sizes: [['spec', 'memory']] }), { mode: 0o600 });
  assert.equal(await decodedBy(), 1, 'an entry that does not revive');
  await writeFile(file, good, { mode: 0o600 });
  assert.equal(await decodedBy(), 0, 'the good file again');
  await chmod(file, 0o644);
  assert.equal(await decodedBy(), 1, 'readable by others');
  if (process.getuid?.() === 0) {
    await writeFile(file, good, { mode: 0o600 });
    await chown(file, 1234, 1234);
    assert.equal(await decodedBy(), 1, "another user's");
  }
  await rm(file);
  await writeFile(join(s.dir, 'elsewhere.json'), good, { mode: 0o600 });
  await symlink(join(s.dir, 'elsewhere.json'), file);
  assert.equal(await decodedBy(), 1, 'a symlink');
  assert.ok((await lstat(file)).isFile(), 'replaced by a file of its own');
  assert.equal((await stat(file)).mode & 0o777, 0o600, 'rewritten as a file of its own');
});

test('a cache that cannot be written leaves listings as they were without it', async () => {
  await using s = await store();
  await s.open().storage.set(aVM('a'));
  await writeFile(join(s.dir, '.cache'), 'not a directory');
  for (let i = 0; i < 2; i++) {
    const p = s.open();
    assert.deepEqual(
      (await p.storage.list('VM')).map((o) => o.metadata.name),
      ['a'],
    );
    assert.equal(p.decodes(), 1);
  }
  assert.equal(await readFile(join(s.dir, '.cache'), 'utf8'), 'not a directory');
});

test('several processes writing and listing at once each see their own last write', async () => {
  await using s = await store();
  const w = s.open();
  const others = Array.from({ length: 10 }, (_, i) => aVM(`still-${i}`));
  const workers = ['aaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbb', 'cccccccccccccccc'];
  for (const uid of workers)
    others.push({ ...aVM(`worker-${uid}`), metadata: { name: `worker-${uid}`, uid } });
  for (const v of others) await w.storage.set(v);
  // Old enough to be cached by the workers, which use the real clock: each first replaces its
  // own VM's cached entry.
  await new Promise((r) => setTimeout(r, 200));
  await s.open({ nowMs: Date.now }).storage.list('VM');
  const worker = join(ROOT, 'test/helpers/listing-cache-worker.ts');
  const run = (uid: string) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', worker, s.dir, uid, '15'], {
      cwd: ROOT,
    });
  await Promise.all(workers.map(run));
  const after = s.open();
  const listed = await after.storage.list('VM');
  assert.equal(listed.length, 13);
  assert.deepStrictEqual(listed, await after.inner.list('VM'));
  for (const uid of workers)
    assert.deepEqual(listed.find((o) => o.metadata.uid === uid)?.metadata.labels, { round: '14' });
  const cached = await readFile(join(s.dir, '.cache', 'listing-vm.json'), 'utf8');
  assert.ok(
    others.every((o) => cached.includes(o.metadata.uid ?? '-')),
    'the still ones cached',
  );
});

test('the decoder is named by the build, and a run from source has no listing cache', () => {
  const build = { version: '1.2.3', gitCommit: 'abc', buildDate: '2026-01-01T00:00:00Z' };
  assert.equal(listingCacheDecoder(build), '1.2.3+abc@2026-01-01T00:00:00Z');
  assert.notEqual(
    listingCacheDecoder({ ...build, buildDate: '2026-01-02T00:00:00Z' }),
    listingCacheDecoder(build),
  );
  assert.equal(
    listingCacheDecoder({ ...build, gitCommit: 'unknown' }),
    '1.2.3+unknown@2026-01-01T00:00:00Z',
  );
  assert.equal(listingCacheDecoder({ ...build, buildDate: 'unknown' }), undefined);
});
