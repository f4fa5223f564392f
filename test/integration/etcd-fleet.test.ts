import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { EtcdFleet } from '../../src/storage/index.js';
import { startEtcdCluster, type EtcdCluster } from '../helpers/etcd-cluster.js';
import { fleetSuite } from '../suites/fleet.suite.js';

let cluster: EtcdCluster | undefined;
before(async () => {
  cluster = await startEtcdCluster();
});
after(async () => {
  await cluster?.[Symbol.asyncDispose]();
});

fleetSuite('EtcdFleet', () => {
  if (!cluster) throw new Error('no etcd cluster');
  const endpoints = cluster.endpoints.split(',');
  const root = `/ignite-test-${randomBytes(4).toString('hex')}/`;
  const opened: EtcdFleet[] = [];
  const open = (): EtcdFleet => {
    const f = new EtcdFleet({ endpoints, root, callTimeoutMs: 3000, electionTTLSeconds: 2 });
    opened.push(f);
    return f;
  };
  const raw = new Etcd3({ hosts: endpoints.map((e) => `http://${e}`) });
  return Promise.resolve({
    fleet: open(),
    another: open,
    revoke: async (host: string) => {
      const res = await raw.get(`${root}hostleases/${host}`).exec();
      const lease = res.kvs[0]?.lease;
      if (lease === undefined) throw new Error(`host "${host}": no lease key`);
      await raw.leaseClient.leaseRevoke({ ID: lease });
    },
    cleanup: async () => {
      await Promise.all(opened.map((f) => f.close()));
      raw.close();
    },
  });
});

test('EtcdFleet: a live-hosts watch whose revision was compacted while its member was down reads again and reports what changed', async () => {
  assert.ok(cluster);
  const root = `/ignite-test-${randomBytes(4).toString('hex')}/`;
  const [m1, ...others] = cluster.members;
  assert.ok(m1);
  const hostOf = (url: string) => new URL(url).host;
  // The watching client knows only m1, so its stream breaks while m1 is down and resumes there.
  const watching = new EtcdFleet({ endpoints: [hostOf(m1.clientURL)], root, callTimeoutMs: 3000 });
  const writing = new EtcdFleet({
    endpoints: others.map((m) => hostOf(m.clientURL)),
    root,
    callTimeoutMs: 3000,
  });
  const admin = new Etcd3({ hosts: others.map((m) => m.clientURL) });
  const none = { renewed: () => undefined, lost: () => undefined };
  const events: string[] = [];
  try {
    const stays = await writing.hostLease('stays', 30, none);
    const goes = await writing.hostLease('goes', 30, none);
    const w = watching.watchLiveHosts((host, live) => events.push(`${host} ${live}`));
    await w.ready;
    await cluster.kill('m1');
    await goes.release();
    const comes = await writing.hostLease('comes', 30, none);
    const revision = (await admin.getAll().prefix(root).exec()).header.revision;
    await admin.kv.compact({ revision, physical: true });
    await cluster.restart('m1');
    const want = ['comes true', 'goes false'];
    const deadline = Date.now() + 30_000;
    while (want.some((e) => !events.includes(e)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual([...events].sort(), want, 'the changes missed, each once');
    w.close();
    await Promise.all([stays.release(), comes.release()]);
  } finally {
    admin.close();
    await Promise.all([watching.close(), writing.close()]);
  }
});
