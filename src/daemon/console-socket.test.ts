import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Duplex } from 'node:stream';
import { afterEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocket } from 'ws';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import { createVM } from '../operations/create-vm.js';
import { startVM } from '../operations/start-vm.js';
import { CONSOLE_PROTOCOL } from './console-socket.js';
import { VMSockets } from './vm-sockets.js';
import { closeReason, vmOfSocketPath } from './socket-kit.js';
import { API_BASE } from './router.js';
import { sameOrigin } from './same-origin.js';

/** The VM's side of its console: what the guest prints is pushed, what it is sent is kept. */
class GuestEnd extends Duplex {
  readonly input: Buffer[] = [];
  override _read(): void {}
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.input.push(chunk);
    cb();
  }
}

interface Harness {
  s: FakeServices;
  guest: GuestEnd;
  consoles: VMSockets;
  url: string;
  host: string;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(options: { clientBufferBytes?: number } = {}): Promise<Harness> {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const vm = await createVM(s, { image: 'busybox', name: 'web' });
  await startVM(s, 'web');
  s.runtimeFiles.consoleLogs.set(vm.metadata.uid, 'ignite-busybox: init started\r\n/ # ');
  const guest = new GuestEnd();
  s.consoles = { connect: () => Promise.resolve(guest) };
  const consoles = new VMSockets(s, {
    statusOf: (e) => (e.code === 'NotFound' ? 404 : e.code === 'FailedPrecondition' ? 409 : 500),
    ...options,
  });
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => consoles.upgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(() => {
    consoles.close();
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return { s, guest, consoles, url: `ws://${host}${API_BASE}/vms`, host };
}

function connect(url: string, headers: Record<string, string> = {}): WebSocket {
  const ws = new WebSocket(url, [CONSOLE_PROTOCOL, 'ignite.bearer.abc'], { headers });
  // A refused handshake, or one cut short at the end of a test, is an error the test expects.
  ws.on('error', () => undefined);
  cleanups.push(() => ws.terminate());
  return ws;
}

const closed = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );

function received(ws: WebSocket): () => string {
  let text = '';
  ws.on('message', (d: Buffer, isBinary) => {
    assert.equal(isBinary, true, 'binary frames only');
    text += d.toString();
  });
  return () => text;
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), what);
}

test('console socket: the log tail, then live output; typing reaches the guest', async () => {
  const h = await harness();
  const ws = connect(`${h.url}/web/console`, { Origin: `http://${h.host}` });
  const text = received(ws);
  await new Promise((r) => ws.once('open', r));
  assert.equal(ws.protocol, CONSOLE_PROTOCOL);
  await until('the history', () => text().includes('init started'));
  h.guest.push('uptime\r\n 12:00 up 1 min\r\n');
  await until('live output', () => text().endsWith('up 1 min\r\n'));
  assert.equal(text(), 'ignite-busybox: init started\r\n/ # uptime\r\n 12:00 up 1 min\r\n');
  ws.send(Buffer.from('echo hi\r'));
  ws.send('ls\r');
  await until('input', () => Buffer.concat(h.guest.input).toString() === 'echo hi\rls\r');

  // The console ends (the VM stopped): the client is told so.
  const end = closed(ws);
  h.guest.destroy();
  assert.deepEqual(await end, { code: 1000, reason: 'console closed' });
});

test('console socket: the client leaving closes the console connection', async () => {
  const h = await harness();
  const ws = connect(`${h.url}/web/console`);
  await new Promise((r) => ws.once('open', r));
  await until('attached', () => h.guest.listenerCount('data') > 0);
  ws.close();
  await until('the console connection closed', () => h.guest.destroyed);
});

test('console socket: errors close the socket with 4000 + their HTTP status', async () => {
  const h = await harness();
  await createVM(h.s, { image: 'busybox', name: 'idle' });
  const cases: [vm: string, code: number, reason: RegExp][] = [
    ['nope', 4404, /nope/],
    ['idle', 4409, /vm "idle": is not running/],
  ];
  for (const [vm, code, reason] of cases) {
    const got = await closed(connect(`${h.url}/${vm}/console`));
    assert.equal(got.code, code, vm);
    assert.match(got.reason, reason, vm);
  }
});

test('console socket: another path, or a page of another origin, is refused', async () => {
  const h = await harness();
  const other = connect(`${h.url}/web/logs`);
  const status = await new Promise<number | undefined>((resolve) =>
    other.once('unexpected-response', (_req, res) => resolve(res.statusCode)),
  );
  assert.equal(status, 404);
  for (const origin of ['http://evil.example', 'null', `https://${h.host}.evil.example`]) {
    const ws = connect(`${h.url}/web/console`, { Origin: origin });
    const status = await new Promise<number | undefined>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode));
      ws.once('open', () => resolve(undefined));
    });
    assert.equal(status, 403, origin);
  }
});

test('console socket: a client that stops reading is dropped, the guest never waits', async () => {
  const h = await harness({ clientBufferBytes: 64 * 1024 });
  const ws = connect(`${h.url}/web/console`);
  await new Promise((r) => ws.once('open', r));
  await until('attached', () => h.guest.listenerCount('data') > 0);
  const end = closed(ws);
  ws.pause();
  const chunk = Buffer.alloc(64 * 1024, 'y');
  // Far more than the socket buffers of both ends and the limit hold.
  for (let i = 0; i < 200 && !h.guest.destroyed; i++) {
    h.guest.push(chunk);
    await new Promise((r) => setImmediate(r));
  }
  assert.equal(h.guest.destroyed, true, 'the console connection was let go');
  ws.resume();
  const got = await end;
  assert.equal(got.code, 1008);
  assert.match(got.reason, /stopped reading/);
});

test('sameOrigin, vmOfSocketPath and closeReason', () => {
  const paths: [path: string, vm: string | undefined][] = [
    [`${API_BASE}/vms/web/console`, 'web'],
    [`${API_BASE}/vms/web/console/`, 'web'],
    [`${API_BASE}/vms/a%20b/console`, 'a b'],
    [`${API_BASE}/vms/%E0%A4%A/console`, undefined],
    [`${API_BASE}/vms/web/logs`, undefined],
    [`${API_BASE}/vms/web/exec`, undefined],
    [`${API_BASE}/vms//console`, undefined],
    ['/vms/web/console', undefined],
  ];
  for (const [path, vm] of paths) assert.equal(vmOfSocketPath(path, 'console'), vm, path);
  assert.equal(vmOfSocketPath(`${API_BASE}/vms/web/exec`, 'exec'), 'web');
  const cases: [origin: string | undefined, host: string, want: boolean][] = [
    [undefined, '127.0.0.1:8080', true],
    ['http://127.0.0.1:8080', '127.0.0.1:8080', true],
    ['https://ignite.example:8443', 'ignite.example:8443', true],
    ['http://127.0.0.1:8081', '127.0.0.1:8080', false],
    ['http://localhost:8080', '127.0.0.1:8080', false],
    ['null', '127.0.0.1:8080', false],
  ];
  for (const [origin, host, want] of cases)
    assert.equal(
      sameOrigin({ headers: { host, ...(origin === undefined ? {} : { origin }) } }),
      want,
      `${origin} on ${host}`,
    );
  assert.equal(closeReason('short'), 'short');
  const long = closeReason(`vm "${'é'.repeat(100)}": not found`);
  assert.ok(Buffer.byteLength(long) <= 123);
  assert.ok(long.startsWith('vm "éé'));
});
