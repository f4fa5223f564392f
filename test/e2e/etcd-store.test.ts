import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { API, startTestDaemon } from '../helpers/daemon.js';
import { tempDataDir } from '../helpers/data-dir.js';
import { startEtcdCluster } from '../helpers/etcd-cluster.js';
import { vmTestEnv } from '../helpers/vm-env.js';

interface VMJSON {
  metadata: { name: string; uid: string };
  status: { state: string };
}

test('ignite --store etcd://…: a VM created on one host is listed from another data dir on the same etcd', async () => {
  await using t = await vmTestEnv(['busybox', 'kernel']);
  await using etcd = await startEtcdCluster({ tls: true });
  await using second = await tempDataDir();
  const tls = etcd.tls;
  assert.ok(tls);
  const name = `on-etcd-${process.pid}`;
  // Host 1 names the store with flags; host 2 with the environment and the URL's query.
  const storeFlags = [
    '--store',
    etcd.storeURL,
    '--store-ca',
    tls.ca,
    '--store-cert',
    tls.cert,
    '--store-key',
    tls.key,
  ];
  const host1 = (args: string[]) => ignite([...storeFlags, ...args], { env: t.env });
  const query = `?ca=${tls.ca}&cert=${tls.cert}&key=${tls.key}`;
  const host2 = (args: string[]) =>
    ignite(args, {
      env: { ...t.env, IGNITE_DATA_DIR: second.path, IGNITE_STORE: `${etcd.storeURL}${query}` },
    });

  const made = await host1([
    'create',
    `${t.registry}/ignite-busybox`,
    '--name',
    name,
    '--net',
    'none',
  ]);
  assert.equal(made.code, 0, made.stderr);
  const uid = made.stdout.trim().split('\n').pop() ?? '';

  const listed = await host2(['ps', '-a', '-o', 'json']);
  assert.equal(listed.code, 0, listed.stderr);
  const vms = JSON.parse(listed.stdout) as VMJSON[];
  assert.deepEqual(
    vms.map((v) => [v.metadata.name, v.status.state]),
    [[name, 'Created']],
  );
  assert.ok(uid.includes(vms[0]?.metadata.uid ?? '-'), `create printed ${made.stdout}`);

  // The objects are in etcd, not in either data dir: host 1 keeps only the VM's files.
  const vmDir = join(t.dataDir, 'vm', vms[0]?.metadata.uid ?? '');
  assert.equal(existsSync(join(vmDir, 'metadata.json')), false);
  const onFs = await ignite(['ps', '-a', '-q'], { env: t.env });
  assert.equal(onFs.stdout.trim(), '', 'the data dir store has no VM');

  // Without its client certificate, etcd refuses the client: a clear Unavailable, not a hang.
  const noCert = await ignite(['--store', `${etcd.storeURL}?ca=${tls.ca}`, 'ps', '-a'], {
    env: t.env,
    timeoutMs: 30_000,
  });
  assert.equal(noCert.code, 7, noCert.stderr);
  assert.match(noCert.stderr, /^Error: etcd at 127\.0\.0\.1:\d+/m);

  // The daemon of a third host serves the same VMs, and ends promptly when told to.
  await using third = await tempDataDir();
  const daemon = await startTestDaemon(
    { ...t.env, IGNITE_DATA_DIR: third.path },
    {
      dir: third.path,
      args: storeFlags,
    },
  );
  try {
    const res = await daemon.request('GET', `${API}/vms`);
    assert.equal(res.status, 200, res.text);
    const items = (res.json as { items: VMJSON[] }).items;
    assert.deepEqual(
      items.map((v) => v.metadata.name),
      [name],
    );
  } finally {
    const t0 = Date.now();
    await daemon.stop();
    assert.ok(Date.now() - t0 < 10_000, `ignited took ${Date.now() - t0} ms to stop`);
  }

  const removed = await host1(['rm', name]);
  assert.equal(removed.code, 0, removed.stderr);
  assert.equal((await host2(['ps', '-a', '-q'])).stdout.trim(), '');
});
