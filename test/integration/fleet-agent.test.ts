import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IGNITE_V04_DEFAULTS, Size, type StoredVM } from '../../src/api/index.js';
import { buildVM } from '../../src/operations/build-vm.js';
import { EtcdFleet, EtcdRawStorage, newClient } from '../../src/storage/index.js';
import { startIgnited, type TestDaemon } from '../helpers/daemon.js';
import { tempDataDir } from '../helpers/data-dir.js';
import { startEtcdCluster } from '../helpers/etcd-cluster.js';
import { pushProjectImages, startRegistry } from '../helpers/registry.js';
import { TEST_KERNEL } from '../helpers/vm-env.js';

const TTL_S = 5;

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('two ignited agents on one etcd: hosts, leases, a VM made and started on its host, fencing', async (t) => {
  await using etcd = await startEtcdCluster();
  // The project's images, as the shared test registry serves them (IGNITE_TEST_REGISTRY);
  // otherwise a registry of its own, with the images built and pushed.
  await using own =
    process.env['IGNITE_TEST_REGISTRY'] === undefined ? await startRegistry() : undefined;
  const reg = { host: process.env['IGNITE_TEST_REGISTRY'] ?? own?.host ?? '' };
  if (own !== undefined) await pushProjectImages(reg.host, ['busybox', 'kernel-micro']);
  await using d1 = await tempDataDir();
  await using d2 = await tempDataDir();
  const kernel = `${reg.host}/${TEST_KERNEL}`;
  const env = {
    IGNITE_ACCEL: 'tcg',
    IGNITE_KERNEL_IMAGE: kernel,
    IGNITE_INSECURE_REGISTRIES: reg.host,
  };
  const endpoints = etcd.endpoints.split(',');
  const client = newClient(new EtcdRawStorage({ endpoints }));
  const fleet = new EtcdFleet({ endpoints });
  const agents: TestDaemon[] = [];
  const vmPids: number[] = [];
  const agent = async (host: string, dir: string): Promise<TestDaemon> => {
    const runtime = join(dir, 'run');
    const a = await startIgnited(join(dir, 'ignited.sock'), dir, env, [
      '--store',
      etcd.storeURL,
      '--host-name',
      host,
      '--runtime-dir',
      runtime,
      '--capacity-cpus',
      '2',
      '--capacity-memory',
      '256MB',
      '--host-label',
      `name=${host}`,
      '--lease-ttl',
      String(TTL_S),
      '--log-level',
      'debug',
    ]);
    agents.push(a);
    return a;
  };
  try {
    const h1 = await agent('h1', d1.path);
    const h2 = await agent('h2', d2.path);

    await t.test('each agent registers its Host and holds its lease', async () => {
      const hosts = await until('hosts registered', 10_000, async () => {
        const l = await client.hosts.list();
        return l.length === 2 ? l : undefined;
      });
      const byName = new Map(hosts.map((h) => [h.metadata.name, h]));
      assert.equal(byName.get('h1')?.spec.capacity.cpus, 2);
      assert.equal(byName.get('h1')?.spec.capacity.memory.toString(), '256MB');
      assert.equal(byName.get('h2')?.spec.address, `unix://${join(d2.path, 'ignited.sock')}`);
      assert.deepEqual(byName.get('h2')?.metadata.labels, { name: 'h2' });
      assert.equal(byName.get('h1')?.spec.leaseTTLSeconds, TTL_S);
      assert.deepEqual([...(await fleet.liveHosts())].sort(), ['h1', 'h2']);
    });

    let uid = '';

    await t.test("h1's agent makes and starts a VM placed on it", async () => {
      // Stored as the scheduler would leave it: Pending, placed on h1, asked to run.
      const made = buildVM(
        {
          image: `${reg.host}/ignite-busybox`,
          name: `fleet-${process.pid}`,
          networkMode: 'none',
          memory: Size.parse('64MB'),
        },
        { ...IGNITE_V04_DEFAULTS, kernelImage: kernel },
      );
      made.spec.placement = { reschedule: true };
      made.status = {
        state: 'Pending',
        host: 'h1',
        desiredState: 'Running',
        placement: { generation: 1, time: new Date().toISOString() },
      };
      uid = (await client.vms.create(made)).metadata.uid;
      const running = await until('running on h1', 180_000, async () => {
        const v = await client.vms.get(uid);
        return v.status.state === 'Running' ? v : undefined;
      });
      const pid = running.status.runtime?.pid;
      assert.ok(alive(pid), 'its hypervisor runs');
      if (pid !== undefined) vmPids.push(pid);
      if (running.status.runtime?.spawnPid !== undefined)
        vmPids.push(running.status.runtime.spawnPid);
      assert.ok(existsSync(join(d1.path, 'vm', uid)), "its files are in h1's data dir");
      assert.equal(existsSync(join(d2.path, 'vm', uid)), false, "and not in h2's");
    });

    await t.test('SIGSTOP of h1: its replaceable VM is fenced within the TTL', async () => {
      const before: StoredVM = await client.vms.get(uid);
      const hv = before.status.runtime?.pid;
      assert.ok(alive(hv));
      const stoppedAt = Date.now();
      h1.child.kill('SIGSTOP');
      await until('hypervisor gone', (TTL_S + 1) * 1000, () =>
        Promise.resolve(alive(hv) ? undefined : true),
      );
      const took = Date.now() - stoppedAt;
      const fenced = await until('recorded Fenced', 5000, async () => {
        const v = await client.vms.get(uid);
        return v.status.lastExit?.reason === 'Fenced' ? v : undefined;
      });
      assert.equal(fenced.status.state, 'Stopped');
      t.diagnostic(`fenced ${took} ms after SIGSTOP`);
      // Moved by hand, as the scheduler would once h1's lease is gone.
      await until('h1 not live', (TTL_S + 2) * 1000, async () =>
        (await fleet.liveHosts()).has('h1') ? undefined : true,
      );
      await client.vms.update(uid, (v) => {
        v.status = {
          ...v.status,
          state: 'Pending',
          host: 'h2',
          placement: { generation: 2, time: new Date().toISOString() },
        };
      });
      h1.child.kill('SIGCONT');
    });

    await t.test('after SIGCONT, h1 does not start it again; h2 makes and runs it', async () => {
      await until('h1 live again', 15_000, async () =>
        (await fleet.liveHosts()).has('h1') ? true : undefined,
      );
      await until("h1's copy removed", 10_000, () =>
        Promise.resolve(existsSync(join(d1.path, 'vm', uid)) ? undefined : true),
      );
      const moved = await until('running on h2', 180_000, async () => {
        const v = await client.vms.get(uid);
        return v.status.state === 'Running' ? v : undefined;
      });
      assert.equal(moved.status.host, 'h2');
      for (const p of [moved.status.runtime?.pid, moved.status.runtime?.spawnPid])
        if (p !== undefined) vmPids.push(p);
      assert.equal(existsSync(join(d1.path, 'vm', uid)), false, 'h1 keeps no copy');
    });

    await t.test('kill -9 of an agent: its host is NotReady within the TTL', async () => {
      const killedAt = Date.now();
      await h2.stop('SIGKILL');
      await until('h2 not live', (TTL_S + 1) * 1000, async () =>
        (await fleet.liveHosts()).has('h2') ? undefined : true,
      );
      t.diagnostic(`h2's lease key gone ${Date.now() - killedAt} ms after kill -9`);
      assert.ok((await fleet.liveHosts()).has('h1'), 'h1 stays Ready');
    });
  } finally {
    for (const a of agents) {
      a.child.kill('SIGCONT');
      await a.stop('SIGKILL').catch(() => undefined);
    }
    for (const pid of vmPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await client.close();
    await fleet.close();
  }
});
