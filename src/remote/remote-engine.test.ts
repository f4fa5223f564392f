import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, setVMDefaults, toPlain, type VM } from '../api/index.js';
import { AppError } from '../errors.js';
import { parseDaemonAddress } from './address.js';
import { API_BASE, DaemonClient } from './daemon-client.js';
import { RemoteEngine } from './remote-engine.js';

interface Seen {
  method: string;
  url: string;
  body: string;
}

/** A daemon on a unix socket that answers from `answer` and records each request. */
async function fakeDaemon(answer: (req: Seen, res: http.ServerResponse) => void) {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-engine-'));
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', body };
      seen.push(r);
      answer(r, res);
    });
  });
  server.listen(join(dir, 'd.sock'));
  await once(server, 'listening');
  const client = new DaemonClient({ address: parseDaemonAddress(`unix://${join(dir, 'd.sock')}`) });
  return {
    seen,
    engine: new RemoteEngine(client),
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function storedVM(name: string, uid: string, created: string): Record<string, unknown> {
  const vm: VM = {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: { name, uid, created },
    spec: { image: { ociClaim: { ref: 'docker.io/library/busybox:latest' } } },
    status: { state: 'Running' },
  };
  return toPlain(setVMDefaults(vm));
}

const json = (res: http.ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

test('VMs are decoded as stored objects; create, actions and delete are the contract requests', async () => {
  await using d = await fakeDaemon((r, res) => {
    if (r.method === 'GET' && r.url === `${API_BASE}/vms`)
      return json(res, 200, {
        kind: 'VMList',
        items: [
          storedVM('b', 'bbbbbbbbbbbbbbbb', '2026-01-02T00:00:00Z'),
          storedVM('a', 'aaaaaaaaaaaaaaaa', '2026-01-01T00:00:00Z'),
        ],
      });
    if (r.method === 'DELETE')
      return json(res, 200, {
        kind: 'Status',
        status: 'Success',
        details: { uid: 'aaaaaaaaaaaaaaaa' },
      });
    json(
      res,
      r.method === 'POST' && r.url.startsWith(`${API_BASE}/vms?`) ? 201 : 200,
      storedVM('a', 'aaaaaaaaaaaaaaaa', '2026-01-01T00:00:00Z'),
    );
  });
  const vms = await d.engine.listVMs();
  assert.deepEqual(
    vms.map((v) => v.metadata.name),
    ['a', 'b'],
    'oldest first',
  );
  assert.equal(vms[0]?.spec.memory.toString(), '512MB', 'sizes are decoded');

  const manifest: VM = {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: { name: 'a', labels: { tier: 'web' } },
    spec: { image: { ociClaim: { ref: 'busybox' } }, ssh: 'ssh-ed25519 AAAAC3Nza test' },
  };
  await d.engine.createVM(manifest, { start: { timeoutMs: 1000, sshTimeoutMs: 1000 } });
  await d.engine.stopVM('a', { kill: false, timeoutMs: 30_000 });
  await d.engine.stopVM('a', { kill: true });
  assert.equal(await d.engine.removeVM('a', { force: true }), 'aaaaaaaaaaaaaaaa');
  assert.deepEqual(
    d.seen.slice(1).map((r) => `${r.method} ${r.url.slice(API_BASE.length)} ${r.body}`),
    [
      `POST /vms?start=true ${JSON.stringify(toPlain(manifest))}`,
      'POST /vms/a/stop {"timeoutSeconds":30}',
      'POST /vms/a/kill ',
      'DELETE /vms/a?force=true ',
    ],
  );
});

test('an import streams progress to the caller, and its error line becomes the AppError', async () => {
  await using d = await fakeDaemon((r, res) => {
    res.writeHead(201, { 'content-type': 'application/x-ndjson' });
    const ref = (JSON.parse(r.body) as { ref: string }).ref;
    const lines =
      ref === 'missing'
        ? [
            { type: 'progress', phase: 'unpacking' },
            {
              type: 'error',
              error: { status: 404, code: 'NotFound', detail: 'image "missing": not found' },
            },
          ]
        : [
            { type: 'progress', layer: 'sha256:aa', total: 10 },
            { type: 'progress', layer: 'sha256:aa', bytes: 10 },
            { type: 'progress', phase: 'building filesystem' },
            {
              type: 'result',
              object: {
                apiVersion: API_VERSION,
                kind: 'Image',
                metadata: { name: ref, uid: 'iiiiiiiiiiiiiiii' },
                spec: { ociClaim: { ref } },
                status: {},
              },
            },
          ];
    res.end(lines.map((l) => JSON.stringify(l)).join('\n'));
  });
  const got: string[] = [];
  const progress = {
    layer: (dg: string, total: number) => got.push(`layer ${dg} ${total}`),
    bytes: (dg: string, n: number) => got.push(`bytes ${dg} ${n}`),
    phase: (p: string) => got.push(`phase ${p}`),
  };
  const img = await d.engine.importArtifact('Image', 'busybox', { progress });
  assert.equal(img.metadata.uid, 'iiiiiiiiiiiiiiii');
  assert.deepEqual(got, ['layer sha256:aa 10', 'bytes sha256:aa 10', 'phase building filesystem']);
  assert.equal(d.seen[0]?.url, `${API_BASE}/images`);
  await assert.rejects(
    d.engine.importArtifact('Kernel', 'missing'),
    (e) => AppError.is(e, 'NotFound') && e.message === 'image "missing": not found',
  );
  assert.equal(d.seen[1]?.url, `${API_BASE}/kernels`);
});

test('logs --spawn is refused through the daemon, before any request', async () => {
  await using d = await fakeDaemon((_r, res) => json(res, 200, {}));
  await assert.rejects(d.engine.vmLogs('a', process.stdout, { spawn: true }), (e) =>
    AppError.is(e, 'FailedPrecondition'),
  );
  assert.equal(d.seen.length, 0);
});
