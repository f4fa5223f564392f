import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { FakeClock } from './fake-clock.js';
import { fakeHostFacts } from './fake-host-facts.js';
import { FakeProcesses } from './fake-processes.js';
import { FakeRuntimeFiles } from './fake-runtime-files.js';
import { DATA_DIR, fakeServices, SPAWN_ENTRY, SPAWN_FILE } from './fake-services.js';
import { FakeSignals } from './fake-signals.js';
import { installSupervisor } from './fake-supervisor.js';
import { FakeVMNetwork } from './fake-vm-network.js';

test('FakeClock: sleeps wake when the time is advanced past them', async () => {
  const clock = new FakeClock('2024-01-01T00:00:00Z');
  let woke = 0;
  const a = clock.sleep(100).then(() => woke++);
  const b = clock.sleep(300).then(() => woke++);
  assert.equal(clock.waiting, 2);
  clock.advance(150);
  await a;
  assert.equal(woke, 1);
  assert.equal(clock.waiting, 1);
  clock.advance(150);
  await b;
  assert.equal(woke, 2);
  assert.equal(clock.now().toISOString(), '2024-01-01T00:00:00.300Z');
});

test('FakeClock: with autoAdvance a sleep moves the time and resolves at once', async () => {
  const clock = new FakeClock('2024-01-01T00:00:00Z', { autoAdvance: true });
  await clock.sleep(60_000);
  assert.equal(clock.now().toISOString(), '2024-01-01T00:01:00.000Z');
  assert.deepEqual(clock.sleeps, [60_000]);
});

test('fakeHostFacts: root unless told otherwise', () => {
  assert.equal(fakeHostFacts().isRoot, true);
  const user = fakeHostFacts({ isRoot: false, kvm: false });
  assert.equal(user.isRoot, false);
  assert.equal(user.uid, 1000);
  assert.equal(user.hasKVMDevice(), false);
  assert.equal(fakeHostFacts({ pid: 7 }).pid, 7);
});

test('FakeProcesses: identity by marker and start time, signals, find', async () => {
  const procs = new FakeProcesses();
  const spawned = procs.spawnDetached('ignite-spawn', ['abc123', '--data-dir', '/d'], {
    logFile: '/d/vm/abc123/spawn.log',
  });
  assert.equal(procs.spawned[0]?.options.logFile, '/d/vm/abc123/spawn.log');
  assert.ok(procs.isAlive(spawned.pid, { marker: 'abc123', startTime: spawned.startTime }));
  assert.equal(procs.isAlive(spawned.pid, { marker: 'other' }), false, 'marker must match');
  assert.equal(procs.isAlive(spawned.pid, { startTime: -1 }), false, 'start time must match');
  assert.equal(procs.signalIfSame(spawned.pid, { marker: 'other' }, 'SIGKILL'), false);
  assert.ok(procs.isAlive(spawned.pid), 'a process of another marker is not signalled');

  const stubborn = procs.add(['hv', 'abc123'], { onSignal: () => undefined });
  assert.deepEqual(
    (await procs.find((argv) => argv.includes('abc123'))).map((p) => p.pid),
    [spawned.pid, stubborn.pid],
  );
  assert.ok(procs.signal(stubborn.pid, 'SIGTERM'));
  assert.ok(procs.isAlive(stubborn.pid), 'its own handler decides');
  assert.ok(procs.signal(spawned.pid, 'SIGTERM'));
  assert.equal(await procs.waitForExit(spawned.pid, 1000), true);
  assert.equal(procs.signal(spawned.pid, 'SIGKILL'), false, 'gone');
  assert.deepEqual(procs.signals.at(-1), { pid: spawned.pid, signal: 'SIGKILL' });
});

test('FakeProcesses: waitForExit polls on the clock until the timeout', async () => {
  const clock = new FakeClock(undefined, { autoAdvance: true });
  const procs = new FakeProcesses(clock);
  const p = procs.add(['sleep']);
  const start = clock.now().getTime();
  assert.equal(await procs.waitForExit(p.pid, 500), false);
  assert.equal(clock.now().getTime() - start, 500);
  procs.exit(p.pid);
  assert.equal(await procs.waitForExit(p.pid, 500), true);
});

test('FakeRuntimeFiles: run records, root disks, logs and files by VM', async () => {
  const files = new FakeRuntimeFiles();
  await files.makeVMDir('u1');
  assert.equal(files.readRunRecord('u1'), undefined);
  await files.writeRunRecord('u1', { state: 'Running' });
  const read = files.readRunRecord('u1');
  assert.deepEqual(read, { state: 'Running' });
  if (read) read.state = 'Stopped';
  assert.deepEqual(files.readRunRecord('u1'), { state: 'Running' }, 'a copy is returned');
  await files.removeRunFiles('u1');
  assert.equal(files.readRunRecord('u1'), undefined);
  assert.deepEqual(files.runFilesRemoved, ['u1']);

  files.rootDisks.set('u1', { path: '/d/vm/u1/rootfs.qcow2', format: 'qcow2' });
  assert.equal((await files.rootDisk('u1'))?.format, 'qcow2');
  files.consoleLogs.set('u1', 'boot\nlogin:');
  assert.equal(await files.readConsoleTail('u1', 6), 'login:');
  let out = '';
  const sink = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) });
  assert.equal(await files.copyLog('u1', 'console', sink), true);
  assert.equal(await files.copyLog('u1', 'spawn', sink), false);
  assert.equal(out, 'boot\nlogin:');
  files.files.set('/k/vmlinux', 4096);
  assert.equal(await files.exists('/k/vmlinux'), true);
  assert.equal(await files.diskUsage('/k/vmlinux'), 4096);
  assert.equal(await files.diskUsage('/k/none'), 0);
  await files.removeVMDir('u1');
  assert.equal(await files.rootDisk('u1'), undefined);
});

test('FakeProcesses: onExit runs once, with the signal that ended the process', () => {
  const procs = new FakeProcesses();
  const ends: (NodeJS.Signals | undefined)[] = [];
  const a = procs.add(['a'], { onExit: (sig) => ends.push(sig) });
  const b = procs.add(['b'], { onExit: (sig) => ends.push(sig) });
  procs.signal(a.pid, 'SIGTERM');
  procs.exit(a.pid);
  procs.exit(b.pid);
  assert.deepEqual(ends, ['SIGTERM', undefined]);
});

test('FakeVMNetwork: an address per VM, kept from reserve to attach, given back on release', async () => {
  const net = new FakeVMNetwork();
  const ip = await net.reserve({ uid: 'u1', name: 'a', mode: 'docker-bridge' });
  assert.equal(ip, '10.61.0.2', 'the first address of the subnet');
  assert.equal(await net.reserve({ uid: 'u1', name: 'a', mode: 'docker-bridge' }), ip);
  assert.notEqual(await net.reserve({ uid: 'u2', name: 'b', mode: 'docker-bridge' }), ip);
  assert.equal(await net.reserve({ uid: 'u3', name: 'c', mode: 'none' }), undefined);
  const att = await net.attach({ uid: 'u1', name: 'a', mode: 'docker-bridge', ports: [] });
  assert.deepEqual(att.ipAddresses, [ip]);
  assert.equal(att.netns, 'ignite-u1');
  assert.deepEqual(net.attachmentOf('u1'), att, 'the attachment handed out is kept');
  assert.deepEqual(net.holders().sort(), ['u1', 'u2']);
  assert.deepEqual(net.held('u1'), [`attached ${ip}`, 'netns']);
  assert.equal(net.isAttached('u1'), true);
  assert.equal(net.isAttached('u2'), false, 'reserved only');
  await net.detach({ uid: 'u1' });
  assert.equal(net.isAttached('u1'), false);
  await net.release({ uid: 'u2' });
  assert.deepEqual(net.holders(), []);
  assert.deepEqual(net.opsFor('u1'), ['reserve', 'reserve', 'attach', 'detach']);
  net.fail.sweep = new Error('boom');
  await assert.rejects(net.sweep(), /boom/);
  net.fail.reserve = new Error('no address');
  await assert.rejects(net.reserve({ uid: 'u4', name: 'd', mode: 'docker-bridge' }));
  assert.deepEqual(net.held('u4'), [], 'a failing step does nothing');
});

test('FakeSignals: handlers run on emit; once runs once; unsubscribing stops them', () => {
  const signals = new FakeSignals();
  const seen: string[] = [];
  const off = signals.on('SIGTERM', () => seen.push('on'));
  signals.once('SIGTERM', () => seen.push('once'));
  assert.equal(signals.emit('SIGTERM'), true);
  assert.equal(signals.emit('SIGTERM'), true);
  off();
  assert.equal(signals.emit('SIGTERM'), false, 'nothing listens');
  assert.deepEqual(seen, ['on', 'once', 'on']);
});

test('installSupervisor: the host supervisor answers on its socket and, told SIGTERM with no VM, ends', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const proc = s.processes.spawnDetached(
    SPAWN_FILE,
    [SPAWN_ENTRY, '--supervise-host', '--data-dir', DATA_DIR],
    { logFile: '/dev/null' },
  );
  const socket = s.layout.hostSupervisorSocket;
  assert.deepEqual(await s.requests.request(socket, { op: 'ping' }, 1000), { pid: proc.pid });
  s.processes.signal(proc.pid, 'SIGTERM');
  for (let i = 0; i < 100 && s.processes.isAlive(proc.pid); i++)
    await new Promise((r) => setTimeout(r, 5));
  assert.equal(s.processes.isAlive(proc.pid), false);
  assert.equal(s.requests.served.has(socket), false, 'its socket closed');
  assert.deepEqual(s.drivers.qemu.started, [], 'never booted anything');
});
