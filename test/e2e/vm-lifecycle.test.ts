import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const pexec = promisify(execFile);
import assert from 'node:assert/strict';
import { isProcessAlive } from '../../src/system/linux-processes.js';
import { ignite } from '../helpers/cli.js';
import { vmTestEnv } from '../helpers/vm-env.js';
import { throughDaemon } from '../helpers/cli-mode.js';
import { typeOnConsole, waitForBusyboxInit, waitForText } from '../helpers/console.js';

interface VMJSON {
  metadata: { uid: string; annotations?: Record<string, string> };
  status: {
    state: string;
    runtime?: { spawnPid: number; pid: number };
    desiredState?: string;
    lastExit?: { time: string; reason: string; signal?: string };
  };
}

// Real QEMU microvm boots under TCG (KVM is probed and unusable on the project's machines).
test(
  'run, logs, ps, stop, kill -9, start again with the disk kept, rm leaves nothing',
  { timeout: 600_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const reg = { host: t.registry };
    const dir = { path: t.dataDir };
    const name = `t1-${process.pid}`;
    const inspect = async () =>
      JSON.parse((await ignite(['inspect', 'vm', name], { env })).stdout) as VMJSON;

    // Through a daemon a restart policy would bring the killed VM back by itself, racing this
    // case's own start after the kill; there the VM has the default policy, written out.
    const policy = throughDaemon() ? 'no' : 'on-failure:2';
    const run = await ignite(
      ['run', `${reg.host}/ignite-busybox`, '--name', name, '--net', 'none', '--restart', policy],
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
    const ran = await inspect();
    assert.equal(ran.metadata.annotations?.['ignite.weave.works/restart-policy'], policy);
    assert.equal(ran.status.desiredState, 'Running');
    const uid = await waitForBusyboxInit(dir.path, run.stdout, 90_000);
    const vmDir = join(dir.path, 'vm', uid);
    const consoleLog = join(vmDir, 'console.log');
    const logs = await ignite(['logs', name], { env });
    assert.match(logs.stdout, /ignite-busybox: init started/);

    const ps = await ignite(['ps'], { env });
    assert.match(
      ps.stdout,
      new RegExp(
        `^${uid}\\s.*\\sRunning\\s+(\\d+ seconds?|About a minute)\\s+0\\s.*\\s${name}$`,
        'm',
      ),
      ps.stdout,
    );

    const stop = await ignite(['stop', name, '--timeout', '30s'], { env });
    assert.equal(stop.code, 0, stop.stderr);
    const stopped = (await inspect()).status;
    assert.equal(stopped.desiredState, 'Stopped');
    assert.equal(stopped.lastExit?.reason, 'Stopped');
    assert.match(
      (await ignite(['ps', '-a'], { env })).stdout,
      new RegExp(`^${uid}\\s.*\\sStopped\\s`, 'm'),
    );
    assert.equal(
      (await ignite(['ps'], { env })).stdout.split('\n').filter((l) => l.startsWith(uid)).length,
      0,
    );

    // A file written in the guest survives a kill -9 of the hypervisor and a new start.
    assert.equal((await ignite(['start', name], { env })).code, 0);
    await waitForText(consoleLog, /ignite-busybox: ready[\s\S]*ignite-busybox: ready/, 90_000);
    await typeOnConsole(
      join(vmDir, 'console.sock'),
      'echo abc123 | rev > /root/marker; sync; echo wrote-$((40+2))',
    );
    await waitForText(consoleLog, 'wrote-42', 30_000);
    const running = await inspect();
    const hv = running.status.runtime?.pid ?? 0;
    assert.ok(isProcessAlive(hv), 'hypervisor is running');
    process.kill(hv, 'SIGKILL');
    const deadline = Date.now() + 30_000;
    while ((await inspect()).status.state !== 'Stopped' && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    const crashed = (await inspect()).status;
    assert.equal(crashed.desiredState, 'Running', 'nobody asked it to stop');
    const { time, ...exit } = crashed.lastExit ?? { time: '' };
    assert.ok(Date.parse(time) > Date.now() - 60_000, `exit recorded just now (${time})`);
    assert.deepEqual(exit, { reason: 'Crashed', signal: 'SIGKILL' });
    assert.match(
      (await ignite(['ps', '-a'], { env })).stdout,
      new RegExp(`^${uid}\\s.*\\sStopped\\s`, 'm'),
    );

    assert.equal((await ignite(['start', name], { env })).code, 0);
    await waitForText(consoleLog, /(ignite-busybox: ready[\s\S]*){3}/, 90_000);
    await typeOnConsole(join(vmDir, 'console.sock'), 'cat /root/marker');
    await waitForText(consoleLog, '321cba', 30_000);

    const spawnPid = (await inspect()).status.runtime?.spawnPid ?? 0;
    const rm = await ignite(['rm', '-f', name], { env });
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(isProcessAlive(hv), false);
    assert.deepEqual(await readdir(join(dir.path, 'vm')), [], 'no file of the VM is left');
    // The host supervisor, with no VM left, ends by itself.
    const idleBy = Date.now() + 30_000;
    while (isProcessAlive(spawnPid) && Date.now() < idleBy)
      await new Promise((r) => setTimeout(r, 250));
    assert.equal(isProcessAlive(spawnPid), false, 'no supervisor left once idle');
    const missing = await ignite(['inspect', 'vm', name], { env });
    assert.equal(missing.code, 3);
  },
);

test(
  'rm refuses a running VM without -f; removing an image a VM uses needs -f',
  { timeout: 300_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const reg = { host: t.registry };
    const dir = { path: t.dataDir };
    // A run whose image does not exist fails cleanly: no VM, no directory, no waiting supervisor.
    const bad = await ignite(['run', `${reg.host}/no-such-image`, '--name', 'bad'], { env });
    assert.equal(bad.code, 3, bad.stderr);
    assert.deepEqual(await readdir(join(dir.path, 'vm')).catch(() => []), []);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(
      (await pexec('pgrep', ['-af', `--data-dir ${dir.path}`]).catch(() => ({ stdout: '' }))).stdout
        .split('\n')
        .filter((l) => l.trim() !== '' && !l.includes('--supervise-host'))
        .join('\n'),
      '',
      'nothing of the VM left waiting (the host supervisor ends once idle)',
    );
    const made = await ignite(
      ['create', `${reg.host}/ignite-busybox`, '--name', 'keep', '--net', 'none'],
      { env },
    );
    assert.equal(made.code, 0, made.stderr);
    const rmi = await ignite(['rmi', `${reg.host}/ignite-busybox`], { env });
    assert.equal(rmi.code, 5, rmi.stderr);
    assert.match(rmi.stderr, /in use by VM "keep"/);
    assert.equal((await ignite(['start', 'keep'], { env })).code, 0);
    const rm = await ignite(['rm', 'keep'], { env });
    assert.equal(rm.code, 5);
    assert.match(rm.stderr, /vm "keep": is running/);
    const forced = await ignite(['rmi', '-f', `${reg.host}/ignite-busybox`], { env });
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(await readdir(join(dir.path, 'vm')), []);
    assert.deepEqual(await readdir(join(dir.path, 'image')), []);
  },
);
