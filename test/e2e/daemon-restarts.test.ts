import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isProcessAlive } from '../../src/system/linux-processes.js';
import { typeOnConsole, waitForText, BUSYBOX_INIT } from '../helpers/console.js';
import { IGNITE_BIN } from '../helpers/cli.js';
import { API, startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { vmTestEnv } from '../helpers/vm-env.js';

interface VMJSON {
  metadata: { uid: string; name: string };
  status?: {
    state?: string;
    restartCount?: number;
    desiredState?: string;
    lastExit?: { reason: string };
    runtime?: { pid?: number; spawnPid?: number };
  };
}

const RESTART_POLICY = 'ignite.weave.works/restart-policy';

function busybox(registry: string, name: string, policy?: string) {
  return {
    apiVersion: 'ignite.weave.works/v1alpha1',
    kind: 'VM',
    metadata: { name, ...(policy ? { annotations: { [RESTART_POLICY]: policy } } : {}) },
    spec: {
      image: { ociClaim: { ref: `${registry}/ignite-busybox` } },
      memory: '64MB',
      network: { mode: 'none' },
    },
  };
}

async function run(d: TestDaemon, manifest: unknown): Promise<VMJSON> {
  const r = await d.request('POST', `${API}/vms?start=true`, manifest);
  assert.equal(r.status, 201, r.text);
  return r.json as VMJSON;
}

async function get(d: TestDaemon, name: string): Promise<VMJSON> {
  const r = await d.request('GET', `${API}/vms/${name}`);
  assert.equal(r.status, 200, r.text);
  return r.json as VMJSON;
}

/** Polls the VM until `ok` holds; fails with its last state after `timeoutMs`. */
async function until(
  d: TestDaemon,
  name: string,
  ok: (vm: VMJSON) => boolean,
  timeoutMs: number,
): Promise<VMJSON> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const vm = await get(d, name);
    if (ok(vm)) return vm;
    if (Date.now() > deadline)
      throw new Error(
        `vm "${name}": not as expected in ${timeoutMs} ms: ${JSON.stringify(vm.status)}\n${d.log().slice(-3000)}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}

const count = (text: string, s: string) => text.split(s).length - 1;

/** Every process whose command line names `dir` (the VMs' supervisors and hypervisors). */
async function processesUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(dir)) pids.push(Number(p));
  }
  return pids;
}

// Real QEMU microvm boots under TCG; the daemon restarts VMs by their policy.
test(
  'restart policies: a killed hypervisor comes back with its disk; stopped VMs stay stopped',
  { timeout: 600_000 },
  async (t2) => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    await using d = await startTestDaemon(t.env, { dir: t.dataDir });
    // `ignite events` through the daemon, from before anything happens.
    const events = spawn(
      process.execPath,
      [IGNITE_BIN, 'events', '-o', 'json', '--filter', 'vm=always'],
      { env: { ...process.env, ...t.env, IGNITE_HOST: d.host }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let eventLines = '';
    events.stdout.on('data', (b: Buffer) => (eventLines += b.toString()));
    t2.after(() => events.kill('SIGKILL'));
    await new Promise((r) => setTimeout(r, 1000));

    const always = await run(d, busybox(t.registry, 'always', 'always'));
    await run(d, busybox(t.registry, 'never'));
    const vmDir = join(t.dataDir, 'vm', always.metadata.uid);
    const log = join(vmDir, 'console.log');
    await waitForText(log, BUSYBOX_INIT, 120_000);
    // $((6*7)) is expanded by the guest's shell, so the marker shows only as the command's output.
    await typeOnConsole(join(vmDir, 'console.sock'), 'echo $((6*7))-kept > /kept; sync');
    await new Promise((r) => setTimeout(r, 1500));
    const pid = (await get(d, 'always')).status?.runtime?.pid;
    assert.ok(pid !== undefined && isProcessAlive(pid));
    process.kill(pid, 'SIGKILL');

    const back = await until(
      d,
      'always',
      (vm) =>
        vm.status?.state === 'Running' &&
        vm.status.runtime?.pid !== pid &&
        (vm.status.restartCount ?? 0) >= 1,
      90_000,
    );
    assert.equal(back.status?.desiredState, 'Running');
    await waitForText(log, new RegExp(`${BUSYBOX_INIT}[^]*${BUSYBOX_INIT}`), 120_000);
    await typeOnConsole(join(vmDir, 'console.sock'), 'cat /kept');
    await waitForText(log, '42-kept', 30_000);

    // Without a policy a crash is recorded and left alone; a stop is never undone.
    const neverPid = (await get(d, 'never')).status?.runtime?.pid;
    assert.ok(neverPid !== undefined);
    process.kill(neverPid, 'SIGKILL');
    const crashed = await until(d, 'never', (vm) => vm.status?.state === 'Stopped', 60_000);
    assert.equal(crashed.status?.lastExit?.reason, 'Crashed');
    const stop = await d.request('POST', `${API}/vms/always/stop`, { timeoutSeconds: 5 });
    assert.equal(stop.status, 200, stop.text);
    await new Promise((r) => setTimeout(r, 5000));
    assert.equal((await get(d, 'always')).status?.state, 'Stopped');
    assert.equal((await get(d, 'never')).status?.state, 'Stopped');
    assert.equal(count(await readFile(log, 'utf8'), BUSYBOX_INIT), 2, 'no third boot');

    const seen = eventLines
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; reason?: string });
    assert.deepEqual(
      seen.map((e) => e.type),
      ['create', 'start', 'die', 'restart', 'stop'],
      eventLines,
    );
    assert.equal(seen[2]?.reason, 'Crashed');
  },
);

test(
  'a simulated host reboot: every ignite process and hypervisor killed, ignited brings back what should run',
  { timeout: 600_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const d1 = await startTestDaemon(t.env, { dir: t.dataDir });
    const up = await run(d1, busybox(t.registry, 'up'));
    const down = await run(d1, busybox(t.registry, 'down'));
    for (const vm of [up, down])
      await waitForText(
        join(t.dataDir, 'vm', vm.metadata.uid, 'console.log'),
        BUSYBOX_INIT,
        120_000,
      );
    const stop = await d1.request('POST', `${API}/vms/down/stop`, { timeoutSeconds: 5 });
    assert.equal(stop.status, 200, stop.text);
    const before = (await get(d1, 'up')).status?.runtime?.pid;

    await d1.killGroup();
    const victims = await processesUnder(t.dataDir);
    assert.ok(victims.length >= 2, `the VM's supervisor and hypervisor run: ${victims.join(' ')}`);
    for (const p of victims) process.kill(p, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(await processesUnder(t.dataDir), []);

    await using d2 = await startTestDaemon(t.env, { dir: t.dataDir });
    const again = await until(d2, 'up', (vm) => vm.status?.state === 'Running', 90_000);
    assert.notEqual(again.status?.runtime?.pid, before);
    assert.ok(again.status?.runtime?.pid !== undefined && isProcessAlive(again.status.runtime.pid));
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal((await get(d2, 'down')).status?.state, 'Stopped');
  },
);
