import { chmod, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { isProcessAlive } from '../../src/system/linux-processes.js';
import { APIClient } from '../helpers/api-client.js';
import { runProgram } from '../helpers/cli.js';
import { BUSYBOX_INIT } from '../helpers/console.js';
import { IGNITED_BIN, startIgnited, type TestDaemon } from '../helpers/daemon.js';
import { OpenAPIContract } from '../helpers/openapi-contract.js';
import { rawExchange } from '../helpers/raw-http.js';
import { freePort } from '../helpers/registry.js';
import { selfSignedCert } from '../helpers/tls.js';
import { TEST_KERNEL, vmTestEnv, type VMTestEnv } from '../helpers/vm-env.js';

const V1 = '/apis/ignite.weave.works/v1alpha1';
const API_VERSION = 'ignite.weave.works/v1alpha1';

// One data dir, registry and daemon for the whole file: the image is imported once and shared.
// Every answer any client here receives is checked against api/openapi.json.
const contract = new OpenAPIContract();
let env: VMTestEnv;
let work: string;
let socket: string;
let daemon: TestDaemon;
let api: APIClient;
const tag = `api${process.pid}`;

interface VMJSON {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
  status: { state: string; runtime?: { pid?: number; spawnPid?: number } };
}

function manifest(name: string | undefined, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: { ...(name !== undefined ? { name } : {}), labels: { suite: tag } },
    spec: {
      image: { ociClaim: { ref: `${env.registry}/ignite-busybox` } },
      network: { mode: 'none' },
      ...extra,
    },
  };
}

/** The VM directories in the data dir (none before the first VM). */
async function vmDirs(): Promise<string[]> {
  return (await readdir(join(env.dataDir, 'vm')).catch(() => [])).sort();
}

async function listVMs(selector = `suite=${tag}`): Promise<VMJSON[]> {
  const r = await api.request('GET', `${V1}/vms?labelSelector=${encodeURIComponent(selector)}`);
  assert.equal(r.status, 200, r.text);
  return r.json<{ items: VMJSON[] }>().items;
}

before(async () => {
  env = await vmTestEnv(['busybox', 'kernel']);
  work = await mkdtemp(join(tmpdir(), 'ignite-api-'));
  socket = join(work, 'ignited.sock');
  daemon = await startIgnited(socket, env.dataDir, env.env);
  api = new APIClient({ socketPath: socket }, contract);
});

after(async () => {
  await daemon.stop();
  await env[Symbol.asyncDispose]();
  await rm(work, { recursive: true, force: true });
});

test('images and kernels: import with progress, list, get, bad requests', async () => {
  const image = `${env.registry}/ignite-busybox:latest`;
  await using pull = await api.stream('POST', `${V1}/images`, {
    body: { ref: image },
    accept: 'application/x-ndjson',
  });
  assert.equal(pull.status, 201);
  const lines = (await pull.ended())
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { type: string; object?: { kind: string } });
  assert.ok(
    lines.some((l) => l.type === 'progress'),
    'progress lines',
  );
  assert.deepEqual(lines.at(-1)?.type, 'result', JSON.stringify(lines.at(-1)));
  assert.equal(lines.at(-1)?.object?.kind, 'Image');

  const kernel = await api.request('POST', `${V1}/kernels`, {
    body: { ref: `${env.registry}/${TEST_KERNEL}` },
  });
  assert.equal(kernel.status, 201, kernel.text);
  const kernelUID = kernel.json<VMJSON>().metadata.uid;

  const images = await api.request('GET', `${V1}/images`);
  assert.deepEqual(
    images.json<{ items: VMJSON[] }>().items.map((i) => i.metadata.name),
    [image],
  );
  const byName = await api.request('GET', `${V1}/images/${encodeURIComponent(image)}`);
  assert.equal(byName.status, 200, byName.text);
  const byUID = await api.request('GET', `${V1}/kernels/${kernelUID.slice(0, 6)}`);
  assert.equal(byUID.json<VMJSON>().metadata.uid, kernelUID);
  assert.equal((await api.request('GET', `${V1}/kernels`)).json<{ items: [] }>().items.length, 1);

  const missing = await api.request('GET', `${V1}/images/nothing-here`);
  assert.equal(missing.status, 404);
  assert.equal(missing.json<{ code: string }>().code, 'NotFound');
  const bad = await api.request('POST', `${V1}/images`, { body: { ref: '', tag: 'x' } });
  assert.equal(bad.status, 400);
  assert.deepEqual(
    bad
      .json<{ problems: { path: string }[] }>()
      .problems.map((p) => p.path)
      .sort(),
    ['.ref', '.tag'],
  );
});

test(
  'a VM through the API: run, logs, follow, get, list, labels in place, stop, start, kill -9 of the daemon, kill, delete',
  { timeout: 600_000 },
  async () => {
    const name = `${tag}-web`;
    const run = await api.request('POST', `${V1}/vms?start=true`, {
      body: {
        ...manifest(name),
        metadata: { name, labels: { suite: tag, tier: 'web' } },
      },
    });
    assert.equal(run.status, 201, run.text);
    const created = run.json<VMJSON>();
    assert.equal(created.status.state, 'Running');
    const uid = created.metadata.uid;
    const path = `${V1}/vms/${name}`;

    await using follow = await api.stream('GET', `${path}/logs?follow=true`);
    assert.equal(follow.status, 200);
    await follow.waitFor((t) => t.includes(BUSYBOX_INIT), 120_000);
    follow.close();
    assert.match((await api.request('GET', `${path}/logs`)).text, /ignite-busybox: init started/);

    const other = await api.request('POST', `${V1}/vms`, {
      body: {
        ...manifest(`${tag}-db`),
        metadata: { name: `${tag}-db`, labels: { suite: tag, tier: 'db' } },
      },
    });
    assert.equal(other.status, 201, other.text);
    assert.equal(other.json<VMJSON>().status.state, 'Created');

    assert.equal(
      (await api.request('GET', `${V1}/vms/${uid.slice(0, 8)}`)).json<VMJSON>().metadata.name,
      name,
    );
    assert.deepEqual(
      (await listVMs(`suite=${tag},tier=web`)).map((v) => v.metadata.name),
      [name],
    );
    assert.deepEqual(
      (await listVMs(`suite=${tag},tier!=web`)).map((v) => v.metadata.name),
      [`${tag}-db`],
    );
    assert.equal((await listVMs(`suite=${tag},tier`)).length, 2);
    assert.equal((await listVMs(`suite=${tag},!tier`)).length, 0);
    const badSelector = await api.request(
      'GET',
      `${V1}/vms?labelSelector=${encodeURIComponent('a b')}`,
    );
    assert.equal(badSelector.status, 400);

    // Labels change in place; a spec change of a running VM is refused.
    const current = (await api.request('GET', path)).json<VMJSON>();
    const relabeled = await api.request('PUT', path, {
      body: {
        ...current,
        metadata: { ...current.metadata, labels: { suite: tag, tier: 'front' } },
      },
    });
    assert.equal(relabeled.status, 200, relabeled.text);
    assert.equal(relabeled.json<VMJSON>().metadata.uid, uid);
    assert.deepEqual(
      (await listVMs(`tier=front`)).map((v) => v.metadata.uid),
      [uid],
    );
    const respec = await api.request('PUT', path, {
      body: { ...current, spec: { ...current.spec, cpus: 2 } },
    });
    assert.equal(respec.status, 409, respec.text);

    const metrics = await api.request('GET', `${path}/metrics`);
    assert.equal(metrics.status, 200, metrics.text);
    assert.equal((await api.request('GET', `${V1}/vms/${tag}-db/metrics`)).status, 409);

    // The socket is for root and the ignite group; a daemon killed with -9, with its whole
    // process group and session, changes nothing: the VMs' supervisors live in their own.
    assert.equal((await stat(socket)).mode & 0o777, 0o660);
    const running = (await api.request('GET', path)).json<VMJSON>();
    const hypervisor = running.status.runtime?.pid ?? 0;
    assert.ok(isProcessAlive(hypervisor), 'the hypervisor runs');
    const supervisor = running.status.runtime?.spawnPid ?? 0;
    await daemon.killGroup();
    assert.ok(isProcessAlive(hypervisor), 'the hypervisor survives the daemon');
    assert.ok(isProcessAlive(supervisor), 'and so does its supervisor');
    daemon = await startIgnited(socket, env.dataDir, env.env);
    const adopted = (await api.request('GET', path)).json<VMJSON>();
    assert.equal(adopted.status.state, 'Running');
    assert.equal(adopted.status.runtime?.pid, hypervisor);
    assert.equal(adopted.status.runtime?.spawnPid, supervisor);
    assert.equal((await listVMs()).length, 2);
    assert.equal((await vmDirs()).length, 2);

    const stopped = await api.request('POST', `${path}/stop`, { body: { timeoutSeconds: 30 } });
    assert.equal(stopped.status, 200, stopped.text);
    assert.equal(stopped.json<VMJSON>().status.state, 'Stopped');
    assert.ok(!isProcessAlive(hypervisor));

    const started = await api.request('POST', `${path}/start`);
    assert.equal(started.status, 200, started.text);
    assert.equal(started.json<VMJSON>().status.state, 'Running');
    // Starting a running VM changes nothing.
    const again = await api.request('POST', `${path}/start`);
    assert.equal(again.status, 200, again.text);
    assert.equal(
      again.json<VMJSON>().status.runtime?.pid,
      started.json<VMJSON>().status.runtime?.pid,
    );

    const killed = await api.request('POST', `${path}/kill`);
    assert.equal(killed.status, 200, killed.text);
    assert.equal(killed.json<VMJSON>().status.state, 'Stopped');

    for (const n of [name, `${tag}-db`]) {
      const del = await api.request('DELETE', `${V1}/vms/${n}`);
      assert.equal(del.status, 200, del.text);
      assert.equal(del.json<{ details: { name: string } }>().details.name, n);
      assert.equal((await api.request('GET', `${V1}/vms/${n}`)).status, 404);
    }
    assert.deepEqual(await vmDirs(), []);

    assert.equal((await api.request('GET', '/healthz')).text, 'ok\n');
    assert.equal((await api.request('GET', '/version')).status, 200);
    assert.equal((await api.request('GET', '/metrics')).status, 200);
  },
);

test(
  'bad input gets a clear 4xx or a timeout, other clients are served throughout, nothing is half-created',
  { timeout: 120_000 },
  async () => {
    const before = await vmDirs();
    const listed = (await listVMs('')).length;

    // Another client asks all along; every answer must come, and come quickly.
    let busy = true;
    const latencies: number[] = [];
    const failures: unknown[] = [];
    const bystander = (async () => {
      while (busy) {
        const t0 = performance.now();
        try {
          const [h, l] = await Promise.all([
            api.request('GET', '/healthz'),
            api.request('GET', `${V1}/vms`),
          ]);
          if (h.status !== 200 || l.status !== 200) failures.push([h.status, l.status]);
        } catch (err) {
          failures.push(err);
        }
        latencies.push(performance.now() - t0);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const stopBystander = async () => {
      busy = false;
      await bystander;
    };
    try {
      // Clients that send one byte a second: of the headers, or of a body.
      const post = `POST ${V1}/vms HTTP/1.1\r\nhost: ignited\r\ncontent-type: application/json\r\ncontent-length: 400\r\n\r\n`;
      const slowBody = rawExchange(socket, {
        head: post,
        trickle: JSON.stringify(manifest(`${tag}-slow`)),
      });
      const slowHead = rawExchange(socket, { head: '', trickle: post });

      const malformed = await api.request('POST', `${V1}/vms`, { raw: '{"apiVersion": "ignite' });
      assert.equal(malformed.status, 400);
      assert.match(malformed.json<{ detail: string }>().detail, /not valid JSON/);

      const wrongKind = await api.request('POST', `${V1}/vms`, {
        body: { ...manifest(`${tag}-k`), kind: 'Image' },
      });
      assert.equal(wrongKind.status, 400);
      assert.deepEqual(wrongKind.json<{ problems: unknown[] }>().problems, [
        { path: '.kind', message: 'expected VM, got "Image"' },
      ]);

      const m = manifest(`${tag}-u`, { bogus: 1 });
      const unknown = await api.request('POST', `${V1}/vms`, { body: m });
      assert.equal(unknown.status, 400);
      assert.deepEqual(unknown.json<{ problems: { path: string; message: string }[] }>().problems, [
        { path: '.spec.bogus', message: 'unknown field "bogus"' },
      ]);

      const yamlWrong = await api.request('POST', `${V1}/vms`, {
        raw: `apiVersion: ${API_VERSION}\nkind: VM\nmetadata: {name: ${tag}-y}\nspec: {memory: lots, image: {ociClaim: {ref: busybox}}}\n`,
        contentType: 'application/yaml',
      });
      assert.equal(yamlWrong.status, 400);
      assert.ok(
        yamlWrong
          .json<{ problems: { path: string }[] }>()
          .problems.some((p) => p.path === '.spec.memory'),
      );

      const badAction = await api.request('POST', `${V1}/vms/${tag}-none/stop`, {
        body: { timeoutSeconds: -1, grace: 2 },
      });
      assert.equal(badAction.status, 400, badAction.text);
      assert.deepEqual(
        badAction
          .json<{ problems: { path: string }[] }>()
          .problems.map((p) => p.path)
          .sort(),
        ['.grace', '.timeoutSeconds'],
      );

      const text = await api.request('POST', `${V1}/vms`, {
        raw: 'hello',
        contentType: 'text/plain',
      });
      assert.equal(text.status, 415);

      // 10 MiB: refused by its declared length. The daemon closes the connection after the answer,
      // so the client reads the answer before it sends much (a client writing on regardless may
      // meet a reset before it reads the 413).
      const huge = await rawExchange(socket, {
        head: `POST ${V1}/vms HTTP/1.1\r\nhost: ignited\r\ncontent-type: application/json\r\ncontent-length: ${10 << 20}\r\n\r\n`,
        body: Buffer.alloc(10 << 20, 0x20),
        bodyDelayMs: 500,
      });
      assert.equal(huge.status, 413, huge.raw.slice(0, 500));
      contract.check({
        method: 'POST',
        url: `${V1}/vms`,
        status: huge.status,
        contentType: huge.headers['content-type'],
        body: huge.body,
      });

      for (const [what, slow] of [
        ['slow body', await slowBody],
        ['slow headers', await slowHead],
      ] as const) {
        assert.ok(slow.ms < 20_000, `${what}: cut off after ${slow.ms} ms`);
        // A request whose headers are in gets its answer; one still sending them may just be cut.
        if (what === 'slow body') assert.equal(slow.status, 408, slow.raw);
        if (slow.status !== undefined) {
          assert.equal(slow.status, 408, `${what}: ${slow.raw}`);
          contract.check({
            method: 'POST',
            url: `${V1}/vms`,
            status: slow.status,
            contentType: slow.headers['content-type'],
            body: slow.body,
          });
        }
      }
    } finally {
      await stopBystander();
    }
    assert.deepEqual(failures, []);
    assert.ok(latencies.length >= 10, `the bystander got ${latencies.length} answers`);
    assert.ok(
      Math.max(...latencies) < 3000,
      `slowest bystander answer: ${Math.max(...latencies)} ms`,
    );

    assert.deepEqual(await vmDirs(), before);
    assert.equal((await listVMs('')).length, listed);
  },
);

test(
  '50 concurrent creates give 50 VMs with distinct names and uids',
  { timeout: 300_000 },
  async () => {
    const answers = await Promise.all(
      Array.from({ length: 50 }, () =>
        api.request('POST', `${V1}/vms`, {
          body: { ...manifest(undefined), metadata: { labels: { suite: tag, batch: 'fifty' } } },
        }),
      ),
    );
    for (const a of answers) assert.equal(a.status, 201, a.text);
    const vms = answers.map((a) => a.json<VMJSON>());
    assert.equal(new Set(vms.map((v) => v.metadata.name)).size, 50);
    assert.equal(new Set(vms.map((v) => v.metadata.uid)).size, 50);
    const listed = await listVMs('batch=fifty');
    assert.deepEqual(
      listed.map((v) => v.metadata.uid).sort(),
      vms.map((v) => v.metadata.uid).sort(),
    );
  },
);

test(
  'TCP needs TLS and a token; TCP clients follow the gitops rules',
  { timeout: 180_000 },
  async () => {
    const cert = join(work, 'cert.pem');
    const key = join(work, 'key.pem');
    await selfSignedCert({ cert, key, subject: '/CN=127.0.0.1' }, [
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ]);
    const tokenFile = join(work, 'token');
    const token = 'a'.repeat(8) + Math.random().toString(36).slice(2) + 'z'.repeat(8);
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const port = await freePort();
    const tcp = `tcp://127.0.0.1:${port}`;

    // Refusals happen before anything is served.
    const refused = async (args: string[], why: RegExp) => {
      const r = await runProgram(
        process.execPath,
        [
          IGNITED_BIN,
          'daemon',
          '--data-dir',
          join(work, 'other'),
          '--listen',
          `unix://${join(work, 'other.sock')}`,
          ...args,
        ],
        env.env,
        30_000,
      );
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, why);
    };
    await refused(['--listen', tcp], /TCP needs --tls-cert, --tls-key and --token-file/);
    await refused(
      ['--listen', `tcp://0.0.0.0:${port}`, '--insecure'],
      /--insecure is allowed only on a loopback address/,
    );
    await refused(['--listen', tcp, '--tls-cert', cert, '--tls-key', key], /TCP needs/);
    const open = join(work, 'token-open');
    await writeFile(open, token);
    await chmod(open, 0o644);
    await refused(
      ['--listen', tcp, '--tls-cert', cert, '--tls-key', key, '--token-file', open],
      /readable by others/,
    );

    // --insecure on loopback serves plain HTTP without a token (its own data dir).
    {
      await using insecure = await startIgnited(
        join(work, 'insecure.sock'),
        join(work, 'insecure-data'),
        env.env,
        ['--listen', tcp, '--insecure'],
      );
      const plain = new APIClient({ url: `http://127.0.0.1:${port}` }, contract);
      assert.equal((await plain.request('GET', '/healthz')).status, 200);
      await insecure.stop();
    }

    await daemon.stop();
    daemon = await startIgnited(socket, env.dataDir, env.env, [
      '--listen',
      tcp,
      '--tls-cert',
      cert,
      '--tls-key',
      key,
      '--token-file',
      tokenFile,
    ]);
    const remote = new APIClient(
      { url: `https://127.0.0.1:${port}`, ca: await readFile(cert), token },
      contract,
    );
    const none = await remote.request('GET', `${V1}/vms`, { token: null });
    assert.equal(none.status, 401);
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    assert.equal((await remote.request('GET', `${V1}/vms`, { token: `${token}x` })).status, 401);
    assert.equal((await remote.request('GET', `${V1}/vms`)).status, 200);

    const hostFile = join(work, 'hello.txt');
    await writeFile(hostFile, 'hello from the host\n');
    const withFiles = manifest(`${tag}-files`, {
      copyFiles: [{ hostPath: hostFile, vmPath: '/hello.txt' }],
    });
    const overTCP = await remote.request('POST', `${V1}/vms`, { body: withFiles });
    assert.equal(overTCP.status, 403, overTCP.text);
    assert.ok(
      overTCP
        .json<{ problems: { path: string }[] }>()
        .problems.some((p) => p.path.startsWith('.spec.copyFiles')),
    );
    assert.equal((await api.request('GET', `${V1}/vms/${tag}-files`)).status, 404);
    const overUnix = await api.request('POST', `${V1}/vms`, { body: withFiles });
    assert.equal(overUnix.status, 201, overUnix.text);
  },
);

test(
  'images and kernels in use are kept unless forced; forced, their VMs go too',
  { timeout: 300_000 },
  async () => {
    const image = encodeURIComponent(`${env.registry}/ignite-busybox:latest`);
    const inUse = await api.request('DELETE', `${V1}/images/${image}`);
    assert.equal(inUse.status, 409, inUse.text);
    assert.match(inUse.json<{ detail: string }>().detail, /in use by VM/);
    const kernels = (await api.request('GET', `${V1}/kernels`)).json<{ items: VMJSON[] }>().items;
    const kernelUID = kernels[0]?.metadata.uid ?? '';
    assert.equal((await api.request('DELETE', `${V1}/kernels/${kernelUID}`)).status, 409);
    assert.ok((await listVMs()).length > 0);

    const forced = await api.request('DELETE', `${V1}/images/${image}?force=true`);
    assert.equal(forced.status, 200, forced.text);
    assert.equal(forced.json<{ details: { kind: string } }>().details.kind, 'Image');
    assert.equal((await listVMs('')).length, 0);
    assert.deepEqual(await vmDirs(), []);
    assert.equal((await api.request('GET', `${V1}/images`)).json<{ items: [] }>().items.length, 0);
    assert.equal((await api.request('DELETE', `${V1}/kernels/${kernelUID}`)).status, 200);

    // Every answer of every test above went through the contract.
    assert.ok(contract.checked > 100, `${contract.checked} answers checked`);
  },
);

test(
  'watch: a stream opened before a create with start sees ADDED (Created), MODIFIED (Running), then DELETED; events and resume from a version',
  { timeout: 300_000 },
  async () => {
    const name = `watched-${tag}`;
    const list = await api.request(
      'GET',
      `${V1}/vms?labelSelector=${encodeURIComponent(`suite=${tag}`)}`,
    );
    const from = list.json<{ metadata: { resourceVersion: string } }>().metadata.resourceVersion;
    await using watch = await api.stream('GET', `${V1}/vms?watch=true&resourceVersion=${from}`);
    assert.equal(watch.status, 200);
    await using events = await api.stream('GET', `${V1}/events?watch=true&vm=${name}`);
    assert.equal(events.status, 200);

    const created = await api.request('POST', `${V1}/vms?start=true`, {
      body: manifest(name, { memory: '64MB' }),
    });
    assert.equal(created.status, 201, created.text);
    const uid = created.json<VMJSON>().metadata.uid;
    const del = await api.request('DELETE', `${V1}/vms/${name}?force=true`);
    assert.equal(del.status, 200, del.text);

    type Line = { type: string; resourceVersion: string; object: VMJSON };
    const mine = (text: string): Line[] =>
      text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Line)
        .filter((l) => l.object.metadata.uid === uid);
    await watch.waitFor((t) => mine(t).some((l) => l.type === 'DELETED'), 30_000);
    const seen = mine(watch.text());
    const firstRunning = seen.findIndex(
      (l) => l.type === 'MODIFIED' && l.object.status.state === 'Running',
    );
    assert.equal(seen[0]?.type, 'ADDED', JSON.stringify(seen.map((l) => l.type)));
    assert.equal(seen[0]?.object.status.state, 'Created');
    assert.ok(
      firstRunning > 0,
      `MODIFIED to Running after ADDED: ${seen.map((l) => `${l.type}:${l.object.status.state}`).join(' ')}`,
    );
    assert.equal(seen.at(-1)?.type, 'DELETED');
    const versions = seen.map((l) => BigInt(l.resourceVersion));
    assert.ok(
      versions.every((v, i) => i === 0 || v > (versions[i - 1] ?? 0n)),
      'versions rise',
    );

    // Resuming after the ADDED replays the rest, in the same order.
    const resumeFrom = seen[0]?.resourceVersion ?? '';
    await using again = await api.stream(
      'GET',
      `${V1}/vms?watch=true&resourceVersion=${resumeFrom}`,
    );
    await again.waitFor((t) => mine(t).some((l) => l.type === 'DELETED'), 10_000);
    assert.deepEqual(
      mine(again.text()).map((l) => l.resourceVersion),
      seen.slice(1).map((l) => l.resourceVersion),
    );
    // A version the daemon never had is a 410 Gone.
    const gone = await api.request('GET', `${V1}/vms?watch=true&resourceVersion=1`);
    assert.equal(gone.status, 410, gone.text);

    await events.waitFor((t) => t.includes('"remove"'), 10_000);
    const types = events
      .text()
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { type: string }).type);
    assert.deepEqual(types, ['create', 'start', 'stop', 'remove']);
    watch.close();
    again.close();
    events.close();
  },
);
