import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { image, vm } from '../../test/helpers/objects.js';
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
