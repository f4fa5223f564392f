import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from '../../test/fakes/expect.js';
import { forwardToDaemon, unixSocketOf } from './dashboard-forward.js';

let dir: string;
let socket: string;
let daemon: Server;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ignite-dashboard-'));
  socket = join(dir, 'ignited.sock');
  // A stand-in daemon: /healthz, and /echo, which sends back each chunk of the body as it comes.
  daemon = createServer((req, res) => {
    if (req.url === '/healthz') {
      res.end('ok');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    req.on('data', (d: Buffer) => res.write(d));
    req.on('end', () => res.end());
  });
  await new Promise<void>((r) => daemon.listen(socket, r));
});
after(async () => {
  await new Promise<void>((r) => daemon.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

test('unixSocketOf: unix:///path only', () => {
  assert.equal(unixSocketOf('unix:///run/ignite/ignited.sock'), '/run/ignite/ignited.sock');
  assert.throws(() => unixSocketOf('tcp://10.0.0.1:7443'), /serves the console itself/);
  assert.throws(() => unixSocketOf('unix://relative.sock'), /expected unix:\/\/\/path/);
  assert.throws(() => unixSocketOf('/run/ignite/ignited.sock'), /expected unix:\/\/\/path/);
});

test('forwardToDaemon: requests reach the daemon and come back, byte for byte', async () => {
  const fwd = await forwardToDaemon(socket);
  try {
    assert.match(fwd.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    assert.equal(await (await fetch(new URL('/healthz', fwd.url))).text(), 'ok');
    const body = Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7) % 256));
    const echoed = await fetch(new URL('/echo', fwd.url), { method: 'POST', body });
    assert.deepEqual(Buffer.from(await echoed.arrayBuffer()), body);

    // A client that half-closes after its request still gets the whole answer.
    const raw = await new Promise<string>((resolve, reject) => {
      const s = connect(fwd.port, '127.0.0.1');
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString()));
      s.on('end', () => resolve(got));
      s.on('error', reject);
      s.end('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    assert.match(raw, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok$/);
  } finally {
    await fwd.close();
  }
});

test('forwardToDaemon: close cuts open connections', async () => {
  const fwd = await forwardToDaemon(socket);
  const s = connect(fwd.port, '127.0.0.1');
  await new Promise((r) => s.once('connect', r));
  s.write('POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
  const closed = new Promise((r) => s.once('close', r));
  s.on('error', () => undefined);
  await fwd.close();
  await closed;
  await assert.rejects(fetch(fwd.url));
});

test('forwardToDaemon: no daemon there is a clear Unavailable error', async () => {
  await rejectsWith(
    forwardToDaemon(join(dir, 'none.sock')),
    'Unavailable',
    /daemon unix:\/\/.*none\.sock: not reachable: ENOENT/,
  );
});
