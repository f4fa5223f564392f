import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, test } from 'node:test';
import { VMSockets } from '../../src/daemon/vm-sockets.js';
import { STATUS_OF_CODE } from '../../src/daemon/http-error.js';
import { createVM } from '../../src/operations/create-vm.js';
import { startVM } from '../../src/operations/start-vm.js';
import { vmPaths } from '../../src/operations/vm-paths.js';
import { WebSocket } from 'ws';
import { EXEC_PROTOCOL } from '../../src/api/index.js';
import { API_BASE, DaemonClient } from '../../src/remote/daemon-client.js';
import { execThroughDaemon } from '../../src/remote/remote-exec.js';
import { fakeServices, type FakeServices } from '../fakes/fake-services.js';
import { installSupervisor } from '../fakes/fake-supervisor.js';

// The daemon's exec socket and the CLI's client of it, over a real WebSocket on loopback: the
// streams, the exit status and the errors, with the guest's side of ssh played in process.

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function harness(): Promise<{ s: FakeServices; client: DaemonClient; uid: string }> {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const vm = await createVM(s, { image: 'busybox', name: 'web', ssh: true });
  await startVM(s, 'web');
  s.hostFiles.files.set(vmPaths(s, vm).sshKey, 'PRIVATE KEY');
  const sockets = new VMSockets(s, { statusOf: (e) => STATUS_OF_CODE[e.code] });
  const server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket, head) => sockets.upgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  cleanups.push(() => {
    sockets.close();
    server.closeAllConnections();
    return new Promise<void>((r) => server.close(() => r()));
  });
  const client = new DaemonClient({
    address: { kind: 'tcp', host: '127.0.0.1', port, tls: false, url: `tcp://127.0.0.1:${port}` },
  });
  return { s, client, uid: vm.metadata.uid };
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _e, done) {
      chunks.push(chunk);
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

test('exec socket: stdin reaches the command, stdout and stderr come apart, then the status', async () => {
  const h = await harness();
  h.s.ssh.guest = async (_args, io) => {
    // The guest's `tr a-z A-Z`, with a line on stderr once stdin ends.
    for await (const chunk of io.stdin) io.stdout.write(String(chunk).toUpperCase());
    io.stderr.write('done\n');
    return 3;
  };
  const stdin = new PassThrough();
  const out = sink();
  const err = sink();
  const running = execThroughDaemon(
    h.client,
    'web',
    { command: ['tr', 'a-z', 'A-Z'], tty: false, timeoutSeconds: 5 },
    { stdin, stdout: out.stream, stderr: err.stream },
  );
  stdin.write('hello ');
  stdin.end('world\n');
  assert.equal(await running, 3);
  assert.equal(out.text(), 'HELLO WORLD\n');
  assert.equal(err.text(), 'done\n');
  const args = h.s.ssh.sshArgs[0] ?? [];
  assert.ok(args.includes('-T'), args.join(' '));
  assert.deepEqual(args.slice(args.indexOf('--')), ['--', 'tr', 'a-z', 'A-Z']);
  assert.ok(args.includes('root@10.61.0.2'), args.join(' '));
});

test('exec socket: a terminal is forced on ssh when one is asked for; a big output all arrives', async () => {
  const h = await harness();
  const big = 'x'.repeat(3 * 1024 * 1024);
  h.s.ssh.guest = async (_args, io) => {
    io.stdout.write(big);
    await new Promise((r) => setTimeout(r, 10));
    return 0;
  };
  const out = sink();
  const code = await execThroughDaemon(
    h.client,
    h.uid,
    { command: [], tty: true, timeoutSeconds: 5 },
    { stdin: new PassThrough(), stdout: out.stream, stderr: sink().stream },
  );
  assert.equal(code, 0);
  assert.equal(out.text().length, big.length);
  assert.ok(h.s.ssh.sshArgs[0]?.includes('-tt'));
});

test('exec socket: errors arrive as the AppErrors they are, and a gone client ends the command', async () => {
  const h = await harness();
  const io = () => ({ stdin: new PassThrough(), stdout: sink().stream, stderr: sink().stream });
  const request = { command: ['true'], tty: false, timeoutSeconds: 5 };
  await assert.rejects(execThroughDaemon(h.client, 'nope', request, io()), {
    code: 'NotFound',
    message: 'vm "nope": not found',
  });
  h.s.ssh.answering = () => false;
  await assert.rejects(
    execThroughDaemon(h.client, 'web', { ...request, timeoutSeconds: 1 }, io()),
    (e: Error & { code?: string }) => e.code === 'Unavailable' && /^vm "web"/.test(e.message),
  );
  h.s.ssh.answering = () => true;

  // The client's socket closes while the command runs: the command is aborted.
  let aborted = false;
  h.s.ssh.guest = (_args, _io, signal) =>
    new Promise((resolve) =>
      signal?.addEventListener('abort', () => {
        aborted = true;
        resolve(143);
      }),
    );
  const a = h.client.connection.address;
  assert.equal(a.kind, 'tcp');
  const url = `ws://127.0.0.1:${a.kind === 'tcp' ? a.port : 0}${API_BASE}/vms/web/exec?command=sleep&command=1d`;
  const ws = new WebSocket(url, [EXEC_PROTOCOL]);
  ws.on('error', () => undefined);
  await new Promise((r) => ws.once('open', r));
  for (let i = 0; i < 200 && h.s.ssh.sshArgs.length < 1; i++)
    await new Promise((r) => setTimeout(r, 5));
  assert.equal(aborted, false);
  ws.terminate();
  for (let i = 0; i < 200 && !aborted; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(aborted, true);
});
