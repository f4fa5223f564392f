import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { image, vm } from '../../test/helpers/objects.js';
import { FsRawStorage } from './fs-raw-storage.js';
import { MemoryRawStorage } from './memory-raw-storage.js';
import { newClient, newFsClient } from './index.js';

const fixed = () => new Date('2026-01-02T03:04:05.000Z');

test('create assigns a uid and stamps created; get reads it back defaulted', async () => {
  const c = newClient(new MemoryRawStorage(), fixed);
  const made = await c.vms.create(vm('web'));
  assert.match(made.metadata.uid ?? '', /^[a-f0-9]{16}$/);
  const got = await c.vms.get(made.metadata.uid ?? '');
  assert.equal(got.metadata.created, '2026-01-02T03:04:05.000Z');
  assert.equal(got.spec.cpus, 1, 'defaults applied on read');
  assert.equal(got.status?.state, 'Created');
});

test('create refuses a name that exists', async () => {
  const c = newClient(new MemoryRawStorage());
  await c.vms.create(vm('web'));
  await assert.rejects(
    c.vms.create(vm('web')),
    (e: unknown) => AppError.is(e, 'AlreadyExists') && /vm "web": already exists/.test(e.message),
  );
});

test('find: exact name or uid, unique prefix, ambiguity listing matches, not found', async () => {
  const c = newClient(new MemoryRawStorage());
  const a = await c.vms.create({
    ...vm('web'),
    metadata: { name: 'web', uid: 'abcd000000000001' },
  });
  await c.vms.create({ ...vm('web-2'), metadata: { name: 'web-2', uid: 'abcd000000000002' } });
  await c.vms.create({ ...vm('db'), metadata: { name: 'db', uid: 'ffff000000000003' } });
  assert.equal(
    (await c.vms.find('web')).metadata.uid,
    a.metadata.uid,
    'exact name wins over prefix of web-2',
  );
  assert.equal((await c.vms.find('abcd000000000002')).metadata.name, 'web-2');
  assert.equal((await c.vms.find('ff')).metadata.name, 'db');
  assert.equal((await c.vms.find('d')).metadata.name, 'db');
  await assert.rejects(
    c.vms.find('abcd'),
    (e: unknown) =>
      AppError.is(e, 'InvalidArgument') &&
      /ambiguous, matches 2: abcd000000000001 \(web\), abcd000000000002 \(web-2\)/.test(e.message),
  );
  await assert.rejects(
    c.vms.find('zzz'),
    (e: unknown) => AppError.is(e, 'NotFound') && e.message === 'vm "zzz": not found',
  );
});

test('images are found by short reference', async () => {
  const c = newClient(new MemoryRawStorage());
  await c.images.create(image('docker.io/library/busybox:latest'));
  assert.equal((await c.images.find('busybox')).metadata.name, 'docker.io/library/busybox:latest');
});

test('update is read-modify-write and keeps concurrent changes', async () => {
  const c = newClient(new MemoryRawStorage());
  const made = await c.vms.create(vm('web'));
  const uid = made.metadata.uid ?? '';
  await Promise.all([
    c.vms.update(uid, (o) => void (o.metadata.labels = { ...o.metadata.labels, a: '1' })),
    c.vms.update(uid, (o) => void (o.metadata.labels = { ...o.metadata.labels, b: '2' })),
  ]);
  assert.deepEqual((await c.vms.get(uid)).metadata.labels, { a: '1', b: '2' });
});

test('the cache sees writes made by another client on the same data dir', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-cache-'));
  try {
    const one = newFsClient(dir);
    const two = newFsClient(dir);
    const made = await one.vms.create(vm('web'));
    const uid = made.metadata.uid ?? '';
    assert.equal((await two.vms.get(uid)).spec.cpus, 1); // now cached in two
    await one.vms.update(uid, (o) => void (o.spec.cpus = 4));
    assert.equal((await two.vms.get(uid)).spec.cpus, 4);
    await one.vms.delete(uid);
    assert.deepEqual(await two.vms.list(), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('objects returned from the cache are copies', async () => {
  const c = newClient(new MemoryRawStorage());
  const made = await c.vms.create(vm('web'));
  const uid = made.metadata.uid ?? '';
  const first = await c.vms.get(uid);
  first.metadata.name = 'changed';
  assert.equal((await c.vms.get(uid)).metadata.name, 'web');
});

test('vms.watch passes changes up decoded and defaulted; DELETED carries the last object', async () => {
  const c = newClient(new MemoryRawStorage(), fixed);
  const seen: string[] = [];
  const w = c.vms.watch((ch) =>
    seen.push(`${ch.type} ${ch.obj.metadata.name} ${ch.obj.status.state ?? ''} ${ch.uid}`),
  );
  await w.ready;
  const made = await c.vms.create(vm('web'));
  await c.images.create(image('busybox'));
  await c.vms.update(made.metadata.uid, (v) => {
    v.status.state = 'Running';
  });
  await c.vms.delete(made.metadata.uid);
  w.close();
  await c.vms.create(vm('late'));
  const uid = made.metadata.uid;
  assert.deepEqual(seen, [
    `ADDED web Created ${uid}`,
    `MODIFIED web Running ${uid}`,
    `DELETED web Running ${uid}`,
  ]);
});

test('watch reports an object that does not decode to onError, and goes on', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-client-'));
  const until = async (cond: () => boolean) => {
    const deadline = Date.now() + 3000;
    while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };
  try {
    const raw = new FsRawStorage(dir, { watchIntervalMs: 20 });
    const names: string[] = [];
    const errors: string[] = [];
    const w = newClient(raw).vms.watch((ch) => names.push(`${ch.type} ${ch.obj.metadata.name}`), {
      onError: (err) => errors.push((err as Error).message),
    });
    try {
      await w.ready;
      await raw.write({ kind: 'VM', uid: '0123456789abcdef' }, Buffer.from('{"kind":'));
      await until(() => errors.length > 0);
      await raw.delete({ kind: 'VM', uid: '0123456789abcdef' });
      const made = await newFsClient(dir).vms.create(vm('web'));
      await until(() => names.length > 0);
      await newFsClient(dir).vms.delete(made.metadata.uid);
      await until(() => names.length > 1);
      assert.deepEqual(names, ['ADDED web', 'DELETED web']);
      assert.equal(errors.length, 2, 'the bad bytes, written and deleted');
      assert.match(errors[0] ?? '', /0123456789abcdef/);
    } finally {
      w.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
