import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import { AppError } from '../../../src/errors.js';
import { runUnchecked } from '../../../src/system/exec.js';
import { serveHostMetrics, serveMetrics } from '../../../src/metrics/index.js';
import { curl, curlUnix, fakeManager, startFakeVM, tempDir } from './fixture.js';

function tinyRegistry(value: number): Registry {
  const registry = new Registry();
  new Gauge({ name: 'tiny', help: 'A test gauge.', registers: [registry] }).set(value);
  return registry;
}

function unixRequest(socketPath: string, method: string): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/metrics', method }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', reject);
    req.end();
  });
}

test('serveMetrics: socket mode 0600, content type, 405 for other methods, close removes it', async () => {
  await using dir = await tempDir();
  const socketPath = join(dir.path, 'prometheus.sock');
  const server = await serveMetrics(tinyRegistry(7), socketPath);
  try {
    const st = await stat(socketPath);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o600);
    assert.match(await curlUnix(socketPath), /^tiny 7$/m);
    assert.equal(await unixRequest(socketPath, 'POST'), 405);
    assert.equal(await unixRequest(socketPath, 'HEAD'), 200);
  } finally {
    await server.close();
  }
  await assert.rejects(stat(socketPath), { code: 'ENOENT' });
  // close() is idempotent.
  await server.close();
});

test('serveMetrics: replaces a stale socket, refuses a live one and a non-socket file', async () => {
  await using dir = await tempDir();
  const socketPath = join(dir.path, 'prometheus.sock');

  // A stale socket: a server killed before it could remove its file.
  const crash = `require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))`;
  await runUnchecked(process.execPath, ['-e', crash, socketPath]);
  assert.ok((await stat(socketPath)).isSocket());

  await using first = await serveMetrics(tinyRegistry(1), socketPath);
  assert.match(await curlUnix(socketPath), /^tiny 1$/m);

  await assert.rejects(
    serveMetrics(tinyRegistry(2), socketPath),
    (err: unknown) =>
      AppError.is(err, 'FailedPrecondition') && /another server is listening/.test(err.message),
  );
  // The live server was left alone.
  assert.match(await curlUnix(first.socketPath), /^tiny 1$/m);

  const plain = join(dir.path, 'not-a-socket');
  await writeFile(plain, 'keep me');
  await assert.rejects(
    serveMetrics(tinyRegistry(3), plain),
    (err: unknown) => AppError.is(err, 'FailedPrecondition') && /is not a socket/.test(err.message),
  );
  assert.equal((await stat(plain)).size, 7);
});

test('serveMetrics: mode 0660 on request', async () => {
  await using dir = await tempDir();
  const socketPath = join(dir.path, 'group.sock');
  await using server = await serveMetrics(tinyRegistry(1), socketPath, { mode: 0o660 });
  assert.equal((await stat(server.socketPath)).mode & 0o777, 0o660);
});

test('host endpoint: dead and hung VM sockets are skipped, counted, and shown as down', async () => {
  await using dir = await tempDir();
  await using alive = await startFakeVM(dir.path, 'cccc000000000003', 'alive');
  // A server that accepts and never answers: the per-VM timeout must cut it off.
  const hungPath = join(dir.path, 'hung.sock');
  const held: Socket[] = [];
  const hung = createServer((socket) => held.push(socket));
  await new Promise<void>((resolve) => hung.listen(hungPath, resolve));
  try {
    await using host = await serveHostMetrics({
      listen: '127.0.0.1:0',
      manager: fakeManager().registry,
      vmTimeoutMs: 300,
      vmSockets: () =>
        Promise.resolve([
          alive,
          { uid: 'dddd000000000004', name: 'dead', socketPath: join(dir.path, 'gone.sock') },
          { uid: 'eeee000000000005', name: 'hung', socketPath: hungPath },
        ]),
    });
    const started = Date.now();
    const text = await curl(`${host.url}/metrics`);
    assert.ok(Date.now() - started < 3_000, 'a hung VM must not hold the scrape');
    assert.match(text, /^ignite_vm_scrape_up\{vm_uid="cccc000000000003",vm_name="alive"\} 1$/m);
    assert.match(text, /^ignite_vm_scrape_up\{vm_uid="dddd000000000004",vm_name="dead"\} 0$/m);
    assert.match(text, /^ignite_vm_scrape_up\{vm_uid="eeee000000000005",vm_name="hung"\} 0$/m);
    assert.match(text, /^ignite_scrape_errors_total\{reason="unreachable"\} 1$/m);
    assert.match(text, /^ignite_scrape_errors_total\{reason="timeout"\} 1$/m);
    assert.match(text, /^ignite_vm_info\{.*vm_uid="cccc000000000003"/m);
    assert.doesNotMatch(text, /^ignite_vm_info\{.*vm_uid="dddd000000000004"/m);
    // Counted again at the next scrape.
    const again = await curl(`${host.url}/metrics`);
    assert.match(again, /^ignite_scrape_errors_total\{reason="unreachable"\} 2$/m);

    assert.equal(await curl(`${host.url}/-/healthy`), 'ignite metrics is healthy\n');
    await assert.rejects(curl(`${host.url}/nothing`), /404/);
  } finally {
    for (const socket of held) socket.destroy();
    await new Promise<void>((resolve) => hung.close(() => resolve()));
  }
});

test('host endpoint: a failing VM listing still serves the manager metrics', async () => {
  await using host = await serveHostMetrics({
    listen: '127.0.0.1:0',
    manager: fakeManager().registry,
    vmSockets: () => Promise.reject(new Error('store locked')),
  });
  const text = await curl(`${host.url}/metrics`);
  assert.match(text, /^ignite_images 1$/m);
  assert.match(text, /^ignite_scrape_errors_total\{reason="discovery"\} 1$/m);
});

test('host endpoint: an address in use is refused', async () => {
  await using first = await serveHostMetrics({
    listen: '127.0.0.1:0',
    manager: new Registry(),
    vmSockets: () => Promise.resolve([]),
  });
  await assert.rejects(
    serveHostMetrics({
      listen: `127.0.0.1:${first.port}`,
      manager: new Registry(),
      vmSockets: () => Promise.resolve([]),
    }),
    (err: unknown) => AppError.is(err, 'FailedPrecondition') && /already in use/.test(err.message),
  );
});
