import { spawn } from 'node:child_process';
import { Etcd3 } from 'etcd3';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/errors.js';
import { EtcdRawStorage, newClient, type RawStorage } from '../../src/storage/index.js';
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd-cluster.js';
import { vm } from '../helpers/objects.js';
import { rawStorageSuite } from '../suites/raw-storage.suite.js';

const HOLDER = join(import.meta.dirname, '../helpers/hold-etcd-lock.ts');

let cluster: EtcdCluster | undefined;
before(async () => {
  cluster = await startEtcdCluster();
});
after(async () => {
  await cluster?.[Symbol.asyncDispose]();
});

/** A store on the test cluster under its own root, so tests do not see each other's keys. */
function opener(root = `/ignite-test-${randomBytes(4).toString('hex')}/`) {
  const opened: EtcdRawStorage[] = [];
  const open = (): EtcdRawStorage => {
    if (!cluster) throw new Error('no etcd cluster');
    const raw = new EtcdRawStorage({
      endpoints: cluster.endpoints.split(','),
      root,
      leaseTTLSeconds: 5,
      callTimeoutMs: 3000,
    });
    opened.push(raw);
    return raw;
  };
  return { open, closeAll: () => Promise.all(opened.map((r) => r.close())) };
}

rawStorageSuite('EtcdRawStorage', () => {
  const stores = opener();
  return Promise.resolve({
    raw: stores.open(),
    another: (): RawStorage => stores.open(),
    cleanup: async () => {
      await stores.closeAll();
    },
  });
});

test('EtcdRawStorage: 2 × 100 concurrent creates through two clients give 200 objects', async () => {
  const stores = opener();
  try {
    const [a, b] = [newClient(stores.open()), newClient(stores.open())];
    const made = await Promise.all(
      [a, b].flatMap((client, c) =>
        Array.from({ length: 100 }, (_, i) => client.vms.create(vm(`w${c}-${i}`))),
      ),
    );
    assert.equal(new Set(made.map((v) => v.metadata.uid)).size, 200);
    const all = await newClient(stores.open()).vms.list();
    assert.equal(all.length, 200);
    assert.equal(new Set(all.map((v) => v.metadata.name)).size, 200);
  } finally {
    await stores.closeAll();
  }
});

test('EtcdRawStorage: two clients racing for the same names create each exactly once', async () => {
  const stores = opener();
  try {
    const clients = [newClient(stores.open()), newClient(stores.open())];
    const outcomes = await Promise.all(
      clients.flatMap((client) =>
        Array.from({ length: 20 }, (_, i) =>
          client.vms.create(vm(`same-${i}`)).then(
            () => 'created',
            (err: unknown) => (AppError.is(err, 'AlreadyExists') ? 'exists' : err),
          ),
        ),
      ),
    );
    assert.equal(outcomes.filter((o) => o === 'created').length, 20);
    assert.equal(outcomes.filter((o) => o === 'exists').length, 20);
    assert.equal((await clients[0]?.vms.list())?.length, 20);
  } finally {
    await stores.closeAll();
  }
});

test('EtcdRawStorage: the name index refuses a second object of one name, and follows deletes', async () => {
  const stores = opener();
  try {
    const raw = stores.open();
    const body = (name: string) => Buffer.from(JSON.stringify({ metadata: { name } }));
    const A = { kind: 'VM' as const, uid: '00000000000000aa' };
    const B = { kind: 'VM' as const, uid: '00000000000000bb' };
    await raw.write(A, body('web'));
    await raw.write(A, body('web'));
    await assert.rejects(raw.write(B, body('web')), (e) => AppError.is(e, 'AlreadyExists'));
    await raw.write(A, body('web2'));
    await raw.write(B, body('web'));
    await raw.delete(A);
    await raw.write(B, body('web2'));
    assert.deepEqual(await raw.list('VM'), [B]);
  } finally {
    await stores.closeAll();
  }
});

test('EtcdRawStorage: a killed lock holder blocks others only until its lease expires', async () => {
  const root = `/ignite-test-${randomBytes(4).toString('hex')}/`;
  const stores = opener(root);
  const holder = spawn(
    process.execPath,
    ['--import', 'tsx', HOLDER, cluster?.endpoints ?? '', root, '3'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      holder.stdout.on('data', (d: Buffer) => {
        if (d.toString().includes('locked')) resolve();
      });
      holder.once('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
    });
    const other = stores.open();
    const exited = new Promise((r) => holder.once('exit', r));
    holder.kill('SIGKILL');
    await exited;
    const t0 = Date.now();
    assert.equal(await other.withLock('VM', () => Promise.resolve('mine')), 'mine');
    const waited = Date.now() - t0;
    assert.ok(
      waited > 1000,
      `got the lock after ${waited} ms: the holder's key was not waited for`,
    );
    assert.ok(waited < 8000, `waited ${waited} ms for a 3 s lease`);
  } finally {
    holder.kill('SIGKILL');
    await stores.closeAll();
  }
});

test('EtcdRawStorage: without quorum, calls fail as Unavailable within the time bound, and work again after', async () => {
  const stores = opener();
  try {
    const raw = stores.open();
    const A = { kind: 'VM' as const, uid: '0123456789abcdef' };
    await raw.write(A, Buffer.from('before'));
    await cluster?.kill('m2');
    await raw.write(A, Buffer.from('one member down'));
    await cluster?.kill('m3');
    const t0 = Date.now();
    await assert.rejects(raw.write(A, Buffer.from('no quorum')), (e: unknown) => {
      assert.ok(AppError.is(e, 'Unavailable'), String(e));
      assert.match(e.message, /^etcd at 127\.0\.0\.1:\d+/);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000, `failed after ${Date.now() - t0} ms`);
    await cluster?.restart('m2');
    await cluster?.restart('m3');
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await raw.write(A, Buffer.from('after'));
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.equal((await raw.read(A)).toString(), 'after');
  } finally {
    await stores.closeAll();
  }
});

test('EtcdRawStorage: a watch whose revision was compacted while its member was down reads again and reports what changed', async () => {
  assert.ok(cluster);
  const root = `/ignite-test-${randomBytes(4).toString('hex')}/`;
  const [m1, ...others] = cluster.members;
  assert.ok(m1);
  const hostOf = (url: string) => new URL(url).host;
  // The watching client knows only m1, so its stream breaks while m1 is down and resumes there.
  const watching = new EtcdRawStorage({
    endpoints: [hostOf(m1.clientURL)],
    root,
    leaseTTLSeconds: 5,
    callTimeoutMs: 3000,
  });
  const writing = new EtcdRawStorage({
    endpoints: others.map((m) => hostOf(m.clientURL)),
    root,
    leaseTTLSeconds: 5,
    callTimeoutMs: 3000,
  });
  const admin = new Etcd3({ hosts: others.map((m) => m.clientURL) });
  const key = (uid: string) => ({ kind: 'VM' as const, uid });
  const [kept, changed, removed, added, later] = [
    '1111111111111111',
    '2222222222222222',
    '3333333333333333',
    '4444444444444444',
    '5555555555555555',
  ];
  const events: string[] = [];
  try {
    for (const uid of [kept, changed, removed]) await writing.write(key(uid), Buffer.from('v1'));
    const w = watching.watch('VM', (e) =>
      events.push(`${e.type} ${e.key.uid} ${e.data.toString()}`),
    );
    await w.ready;
    await cluster.kill('m1');
    await writing.write(key(changed), Buffer.from('v2'));
    await writing.write(key(changed), Buffer.from('v3'));
    await writing.delete(key(removed));
    await writing.write(key(added), Buffer.from('v1'));
    const revision = (await admin.getAll().prefix(root).exec()).header.revision;
    await admin.kv.compact({ revision, physical: true });
    await cluster.restart('m1');
    const want = [`MODIFIED ${changed} v3`, `DELETED ${removed} v1`, `ADDED ${added} v1`];
    const deadline = Date.now() + 30_000;
    while (want.some((e) => !events.includes(e)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([...events].sort(), [...want].sort(), 'the changes missed, each once');
    // And it watches on.
    await writing.write(key(later), Buffer.from('v1'));
    while (!events.includes(`ADDED ${later} v1`) && Date.now() < deadline + 10_000)
      await new Promise((r) => setTimeout(r, 100));
    assert.ok(events.includes(`ADDED ${later} v1`), events.join('\n'));
    assert.ok(!events.some((e) => e.includes(kept)), 'nothing about the object that stayed');
    w.close();
  } finally {
    admin.close();
    await Promise.all([watching.close(), writing.close()]);
  }
});
