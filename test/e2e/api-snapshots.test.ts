import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { APIClient } from '../helpers/api-client.js';
import { ignite } from '../helpers/cli.js';
import { typeOnConsole, waitForText, BUSYBOX_INIT } from '../helpers/console.js';
import { startIgnited } from '../helpers/daemon.js';
import { OpenAPIContract } from '../helpers/openapi-contract.js';
import { vmTestEnv } from '../helpers/vm-env.js';

const V1 = '/apis/ignite.weave.works/v1alpha1';
const API_VERSION = 'ignite.weave.works/v1alpha1';

interface ObjectJSON {
  kind: string;
  metadata: { name: string; uid: string };
  spec: Record<string, unknown>;
  status: {
    state?: string;
    size?: string;
    files?: { state: string };
    runtime?: { restored?: boolean };
  };
}

// Snapshots through ignited, as a remote client has them: the raw API (every answer checked
// against api/openapi.json), then the CLI with IGNITE_HOST. Real QEMU under TCG, no network.
test(
  'snapshots through the daemon: create of a running VM, list, get, clone with start, refused delete, delete; the CLI with IGNITE_HOST',
  { timeout: 900_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const work = await mkdtemp(join(tmpdir(), 'ignite-api-snap-'));
    const contract = new OpenAPIContract();
    await using daemon = await startIgnited(join(work, 'ignited.sock'), t.dataDir, t.env);
    const api = new APIClient({ socketPath: join(work, 'ignited.sock') }, contract);
    const tag = `apisnap${process.pid}`;
    const vmBody = (name: string) => ({
      apiVersion: API_VERSION,
      kind: 'VM',
      metadata: { name },
      spec: {
        image: { ociClaim: { ref: `${t.registry}/ignite-busybox` } },
        memory: '256MB',
        network: { mode: 'none' },
      },
    });
    const consoleOf = (uid: string) => ({
      log: join(t.dataDir, 'vm', uid, 'console.log'),
      socket: join(t.dataDir, 'vm', uid, 'console.sock'),
    });
    try {
      const run = await api.request('POST', `${V1}/vms?start=true`, { body: vmBody(`${tag}-src`) });
      assert.equal(run.status, 201, run.text);
      const src = consoleOf(run.json<ObjectJSON>().metadata.uid);
      await waitForText(src.log, 'ignite-busybox: ready', 120_000);
      await typeOnConsole(src.socket, 'echo before-$((40+2)) > /root/mark; sync');

      const bad = await api.request('POST', `${V1}/snapshots`, { body: { name: 'x' } });
      assert.equal(bad.status, 400, bad.text);
      const created = await api.request('POST', `${V1}/snapshots`, {
        body: { vm: `${tag}-src`, name: `${tag}-snap` },
      });
      assert.equal(created.status, 201, created.text);
      const snap = created.json<ObjectJSON>();
      assert.equal(snap.kind, 'Snapshot');
      assert.ok(snap.status.files?.state, 'its files are recorded');
      assert.ok(snap.status.size, 'its size is recorded');

      const list = await api.request('GET', `${V1}/snapshots`);
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(
        list.json<{ kind: string; items: ObjectJSON[] }>().items.map((o) => o.metadata.name),
        [`${tag}-snap`],
      );
      const byPrefix = await api.request('GET', `${V1}/snapshots/${snap.metadata.uid.slice(0, 8)}`);
      assert.equal(byPrefix.json<ObjectJSON>().metadata.name, `${tag}-snap`);
      assert.equal((await api.request('GET', `${V1}/snapshots/nothing-here`)).status, 404);

      // A clone through the API resumes the snapshot: no second boot, the file is there.
      const clone = await api.request('POST', `${V1}/snapshots/${tag}-snap/clone?start=true`, {
        body: vmBody(`${tag}-clone`),
      });
      assert.equal(clone.status, 201, clone.text);
      const c = clone.json<ObjectJSON>();
      assert.equal(c.status.state, 'Running');
      assert.equal(c.status.runtime?.restored, true);
      const cc = consoleOf(c.metadata.uid);
      await typeOnConsole(cc.socket, 'cat /root/mark | tr a-z A-Z');
      const log = await waitForText(cc.log, 'BEFORE-42', 60_000);
      assert.ok(!log.includes(BUSYBOX_INIT), 'the clone did not boot');

      const otherImage = await api.request('POST', `${V1}/snapshots/${tag}-snap/clone`, {
        body: {
          ...vmBody(`${tag}-bad`),
          spec: { image: { ociClaim: { ref: 'example.org/other:1' } } },
        },
      });
      assert.equal(otherImage.status, 400, otherImage.text);

      const inUse = await api.request('DELETE', `${V1}/snapshots/${tag}-snap`);
      assert.equal(inUse.status, 409, inUse.text);
      assert.match(inUse.json<{ detail: string }>().detail, /in use by vm/);

      // The CLI through the daemon: ls, inspect, a clone with run, rm refused.
      const env = { ...t.env, IGNITE_HOST: daemon.host };
      const ls = await ignite(['snapshot', 'ls'], { env });
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, new RegExp(`${tag}-snap`));
      const inspect = await ignite(['inspect', 'snapshot', `${tag}-snap`], { env });
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.equal((JSON.parse(inspect.stdout) as ObjectJSON).metadata.uid, snap.metadata.uid);
      const cliClone = await ignite(
        ['run', '--from-snapshot', `${tag}-snap`, '--name', `${tag}-clone2`, '--net', 'none'],
        { env },
      );
      assert.equal(cliClone.code, 0, cliClone.stderr);
      const rmRefused = await ignite(['snapshot', 'rm', `${tag}-snap`], { env });
      assert.notEqual(rmRefused.code, 0);
      assert.match(rmRefused.stderr, /in use by/);

      for (const vm of [`${tag}-clone`, `${tag}-clone2`, `${tag}-src`])
        assert.equal((await api.request('DELETE', `${V1}/vms/${vm}?force=true`)).status, 200);
      const removed = await ignite(['snapshot', 'rm', `${tag}-snap`], { env });
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(removed.stdout.trim(), snap.metadata.uid);
      assert.deepEqual(await readdir(join(t.dataDir, 'snapshot')).catch(() => []), []);
      const none = await api.request('GET', `${V1}/snapshots`);
      assert.deepEqual(none.json<{ items: [] }>().items, []);
      assert.ok(contract.checked > 10, `${contract.checked} answers checked`);
    } finally {
      for (const vm of [`${tag}-clone`, `${tag}-clone2`, `${tag}-src`])
        await api.request('DELETE', `${V1}/vms/${vm}?force=true`).catch(() => undefined);
      await rm(work, { recursive: true, force: true });
    }
  },
);
