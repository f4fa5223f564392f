import { Duplex, PassThrough } from 'node:stream';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from '../../test/fakes/expect.js';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import { attachConsole, joinAtOverlap, openConsoleWithHistory } from './console.js';
import { createVM } from './create-vm.js';
import { startVM } from './start-vm.js';

test('joinAtOverlap: the log, then what of the live output it does not end with', () => {
  const cases: [log: string, live: string, want: string][] = [
    ['', '', ''],
    ['boot\n', '', 'boot\n'],
    ['', '$ ', '$ '],
    ['boot\n$ ', '$ ls\n', 'boot\n$ ls\n'],
    ['abc', 'abc', 'abc'],
    ['abc', 'xyz', 'abcxyz'],
    // The longest overlap wins: "aa" ends the log and starts the live bytes.
    ['baa', 'aab', 'baab'],
    ['ab', 'abab', 'abab'],
  ];
  for (const [log, live, want] of cases)
    assert.equal(
      joinAtOverlap(Buffer.from(log), Buffer.from(live)).toString(),
      want,
      `${JSON.stringify(log)} + ${JSON.stringify(live)}`,
    );
});

async function runningVM(): Promise<{ s: FakeServices; uid: string; stream: PassThrough }> {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const vm = await createVM(s, { image: 'busybox', name: 'web' });
  await startVM(s, 'web');
  const stream = new PassThrough();
  s.consoles = { connect: () => Promise.resolve(stream) };
  return { s, uid: vm.metadata.uid, stream };
}

test('openConsoleWithHistory: the log tail, what arrived while it was read once, then live', async () => {
  const { s, uid, stream } = await runningVM();
  s.runtimeFiles.consoleLogs.set(uid, 'kernel: booting\ninit started\n$ ');
  const readTail = s.runtimeFiles.readConsoleTail.bind(s.runtimeFiles);
  s.runtimeFiles.readConsoleTail = async (u, bytes) => {
    // The guest prints while the log is being read: the log and the socket both have it.
    stream.write('$ ');
    s.runtimeFiles.consoleLogs.set(uid, 'kernel: booting\ninit started\n$ $ ');
    return readTail(u, bytes);
  };
  const opened = await openConsoleWithHistory(s, 'web', 17);
  assert.equal(opened.vm.metadata.uid, uid);
  assert.equal(opened.history.toString(), 'init started\n$ $ ');
  assert.equal(opened.stream.isPaused(), true, 'nothing is lost before the caller reads');
  stream.write('ls\n');
  const next = new Promise<string>((resolve) =>
    opened.stream.once('data', (d: Buffer) => resolve(d.toString())),
  );
  opened.stream.resume();
  assert.equal(await next, 'ls\n');
});

test('openConsoleWithHistory: no log yet gives an empty history', async () => {
  const { s } = await runningVM();
  const opened = await openConsoleWithHistory(s, 'web', 1024);
  assert.equal(opened.history.length, 0);
});

test('openConsoleWithHistory: a VM that is not running, or whose console does not answer', async () => {
  const s = fakeServices();
  await createVM(s, { image: 'busybox', name: 'idle' });
  await rejectsWith(
    openConsoleWithHistory(s, 'idle', 1024),
    'FailedPrecondition',
    /vm "idle": is not running/,
  );
  const { s: s2 } = await runningVM();
  s2.consoles = { connect: () => Promise.reject(new Error('ECONNREFUSED')) };
  await rejectsWith(
    openConsoleWithHistory(s2, 'web', 1024),
    'FailedPrecondition',
    /vm "web": console not available: ECONNREFUSED/,
  );
  await rejectsWith(openConsoleWithHistory(s2, 'nope', 1024), 'NotFound', /nope/);
});

test('attachConsole: output to the terminal, typing to the guest, Ctrl-P Ctrl-Q detaches', async () => {
  const { s } = await runningVM();
  const guest = new PassThrough();
  const typed: Buffer[] = [];
  const socket = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      typed.push(chunk);
      cb();
    },
  });
  guest.on('data', (d: Buffer) => socket.push(d));
  s.consoles = { connect: () => Promise.resolve(socket) };
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  let shown = '';
  stdout.on('data', (d: Buffer) => (shown += d.toString()));
  const attached = attachConsole(s, 'web', { stdin, stdout });
  await new Promise((r) => setImmediate(r));
  guest.write('/ # ');
  stdin.write('ls\r');
  await new Promise((r) => setImmediate(r));
  stdin.write(Buffer.from([0x10, 0x11]));
  await attached;
  assert.equal(shown, '/ # ');
  assert.equal(Buffer.concat(typed).toString(), 'ls\r');
  assert.equal(socket.destroyed, true);
});
