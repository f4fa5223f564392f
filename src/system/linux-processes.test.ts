import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSocket } from 'node:dgram';
import { spawn } from 'node:child_process';
import {
  LinuxProcesses,
  isProcessAlive,
  listensUDP,
  processLook,
  processStartTime,
} from './linux-processes.js';

test('a detached process is known by its pid, start time and marker until it ends', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-proc-'));
  const procs = new LinuxProcesses();
  const marker = `ignite-test-${process.pid}`;
  // The marker is the shell's $0: in its command line, not an argument of sleep; the ':' keeps the
  // shell from replacing itself with sleep.
  const p = procs.spawnDetached('sh', ['-c', 'sleep 30; :', marker], { logFile: join(dir, 'log') });
  try {
    assert.equal(p.startTime, processStartTime(p.pid));
    assert.ok(procs.isAlive(p.pid, { marker, startTime: p.startTime }));
    assert.equal(procs.isAlive(p.pid, { startTime: (p.startTime ?? 0) + 1 }), false);
    assert.equal(procs.isAlive(p.pid, { marker: 'another-vm' }), false);
    assert.equal(procs.signalIfSame(p.pid, { marker: 'another-vm' }, 'SIGKILL'), false);
    const found = await procs.find((argv) => argv.includes(marker));
    assert.deepEqual(found, [p]);
    assert.ok(procs.signalIfSame(p.pid, { marker }, 'SIGTERM'));
    assert.ok(await procs.waitForExit(p.pid, 5000, { startTime: p.startTime }));
    assert.equal(procs.isAlive(p.pid, { marker }), false);
  } finally {
    // The whole session: the shell's sleep too.
    procs.signal(-p.pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true });
  }
});

test('listensUDP: a bound UDP port of the process, in the namespace named', async () => {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  try {
    const port = sock.address().port;
    assert.equal(await listensUDP(process.pid, port, '/proc/self/ns/net'), true);
    // Another port, or another namespace than the process's, is no answer.
    assert.equal(
      await listensUDP(process.pid, port === 1 ? 2 : port - 1, '/proc/self/ns/net'),
      false,
    );
    assert.equal(await listensUDP(process.pid, port, '/proc/self/ns/mnt'), false);
    assert.equal(await listensUDP(process.pid, port, '/nonexistent'), false);
  } finally {
    sock.close();
  }
  assert.equal(await listensUDP(2 ** 22 + 1, 67, '/proc/self/ns/net'), false);
});

test('a process in the middle of an exec keeps its marker: its command line reads empty for a moment', async () => {
  // `env` execs `sleep`; both command lines hold the marker, and the moment between has none.
  const marker = 'sleep 7.25';
  let missed = 0;
  for (let i = 0; i < 50; i++) {
    const child = spawn('env', ['sleep', '7.25'], { stdio: 'ignore' });
    const pid = child.pid ?? 0;
    for (let look = 0; look < 20; look++) if (!isProcessAlive(pid, marker)) missed++;
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
  }
  assert.equal(missed, 0, 'a live process with its marker was taken for gone');
});

test('one look at a process tells an exec in progress from an end, without waiting', async () => {
  const marker = 'sleep 7.5';
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) {
    const child = spawn('env', ['sleep', '7.5'], { stdio: 'ignore' });
    const pid = child.pid ?? 0;
    for (let look = 0; look < 20; look++) seen.add(processLook(pid, marker));
    assert.equal(processLook(pid, 'another marker') === 'ours', false);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.equal(processLook(pid, marker), 'gone');
  }
  assert.equal(seen.has('gone'), false, 'a live process with its marker was taken for gone');
  assert.ok(seen.has('ours'));
  assert.equal(processLook(undefined), 'gone');
});
