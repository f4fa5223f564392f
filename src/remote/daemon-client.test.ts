import { once } from 'node:events';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { parseDaemonAddress } from './address.js';
import { DaemonClient, API_BASE } from './daemon-client.js';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A node:http server on a unix socket in a fresh directory, and a client of it. */
async function daemonOnSocket(handler: Handler) {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-remote-'));
  const path = join(dir, 'ignited.sock');
  const server = http.createServer(handler);
  server.listen(path);
  await once(server, 'listening');
  return {
    path,
    client: new DaemonClient({ address: parseDaemonAddress(`unix://${path}`) }),
    async [Symbol.asyncDispose]() {
      server.closeAllConnections();
      server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function problem(res: http.ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', status, ...body }));
}

test('problems become AppErrors with the same code, message, hint and field problems', async () => {
  await using d = await daemonOnSocket((req, res) => {
    if (req.url === `${API_BASE}/vms/web`)
      return problem(res, 404, {
        title: 'Not Found',
        detail: 'vm "web": not found',
        code: 'NotFound',
        hint: 'list VMs with ignite ps -a',
      });
    if (req.url === `${API_BASE}/vms/web/start`)
      return problem(res, 409, {
        title: 'Conflict',
        detail: 'vm "web": is running',
        code: 'FailedPrecondition',
      });
    if (req.url === `${API_BASE}/vms`)
      return problem(res, 400, {
        title: 'Bad Request',
        detail: 'manifest: 1 problem\n  .spec.memory: expected a size',
        code: 'InvalidArgument',
        problems: [{ path: '.spec.memory', message: 'expected a size' }],
      });
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end('bad gateway\nmore');
  });
  const err = (p: Promise<unknown>) =>
    p.then(
      () => assert.fail('expected an error'),
      (e: unknown) => e,
    );

  const nf = await err(d.client.json('GET', '/vms/web'));
  assert.ok(AppError.is(nf, 'NotFound'));
  assert.equal(nf.message, 'vm "web": not found');
  assert.equal(nf.hint, 'list VMs with ignite ps -a');

  const fp = await err(d.client.json('POST', '/vms/web/start', { body: {} }));
  assert.ok(AppError.is(fp, 'FailedPrecondition'));
  assert.equal(fp.message, 'vm "web": is running');
  assert.equal(fp.hint, undefined);

  const bad = await err(d.client.json('POST', '/vms', { body: { kind: 'VM' } }));
  assert.ok(AppError.is(bad, 'InvalidArgument'));
  assert.deepEqual(bad.problems, [{ path: '.spec.memory', message: 'expected a size' }]);

  const other = await err(d.client.text('GET', '/metrics-elsewhere'));
  assert.ok(AppError.is(other, 'Unavailable'));
  assert.equal(other.message, `daemon at unix://${d.path}: HTTP 502: bad gateway`);
});

test('ndjson answers are yielded line by line as they arrive', async () => {
  let release: () => void = () => undefined;
  const released = new Promise<void>((r) => (release = r));
  await using d = await daemonOnSocket((req, res) => {
    assert.equal(req.headers.accept, 'application/x-ndjson');
    assert.equal(req.url, `${API_BASE}/vms?watch=true&resourceVersion=7`);
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write('{"type":"ADDED","object":{"n":1}}\n{"type":"MODI');
    void released.then(() =>
      res.end('FIED","object":{"n":2}}\n\n{"type":"DELETED","object":{"n":3}}'),
    );
  });
  const it = d.client.ndjson<{ type: string; object: { n: number } }>('GET', '/vms', {
    query: { watch: true, resourceVersion: '7', labelSelector: undefined },
  });
  const first = await it.next();
  assert.deepEqual(first.value, { type: 'ADDED', object: { n: 1 } }, 'before the answer ends');
  release();
  const rest: string[] = [];
  for await (const line of it) rest.push(`${line.type}:${line.object.n}`);
  assert.deepEqual(rest, ['MODIFIED:2', 'DELETED:3']);
});

test('a socket nobody listens on is Unavailable: not reachable, with a hint', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-remote-'));
  try {
    const missing = join(dir, 'none.sock');
    const stale = join(dir, 'stale.sock');
    await writeFile(stale, '');
    for (const path of [missing, stale]) {
      const client = new DaemonClient({ address: parseDaemonAddress(`unix://${path}`) });
      const e = await client.json('GET', '/vms').then(
        () => assert.fail('expected an error'),
        (err: unknown) => err,
      );
      assert.ok(AppError.is(e, 'Unavailable'), String(e));
      assert.equal(e.message, `daemon at unix://${path}: not reachable`);
      assert.match(e.hint ?? '', /ignited daemon/);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('over TCP the bearer token is sent, and bodies go as JSON', async () => {
  const seen: { auth?: string | undefined; type?: string | undefined; body?: string } = {};
  const server = http.createServer((req, res) => {
    seen.auth = req.headers.authorization;
    seen.type = req.headers['content-type'];
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      seen.body = body;
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const { port } = server.address() as { port: number };
    const client = new DaemonClient({
      address: parseDaemonAddress(`http://127.0.0.1:${port}`),
      token: 's3cret',
    });
    assert.deepEqual(await client.json('POST', '/images', { body: { ref: 'busybox' } }), {
      ok: true,
    });
    assert.equal(seen.auth, 'Bearer s3cret');
    assert.equal(seen.type, 'application/json');
    assert.equal(seen.body, '{"ref":"busybox"}');
  } finally {
    server.close();
  }
});
