import { readdir, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isProcessAlive } from '../../src/system/linux-processes.js';
import { ignite } from '../helpers/cli.js';
import { leftovers, reservationsOf } from '../helpers/host-leftovers.js';
import {
  BUSYBOX_INIT,
  typeOnConsole,
  waitForBusyboxInit,
  waitForText,
} from '../helpers/console.js';
import { vmTestEnv } from '../helpers/vm-env.js';

interface VMJSON {
  metadata: { uid: string; annotations?: Record<string, string> };
  status: {
    state: string;
    desiredState?: string;
    runtime?: { spawnPid: number; pid: number; restored?: boolean; restoreSeconds?: number };
  };
}

interface SnapshotJSON {
  metadata: { uid: string; name: string };
  spec: { source: { name: string; uid: string }; memory: string; vmm: string };
  status: {
    files?: { state: string; sidecar: string; disk: string };
    size?: string;
    saveSeconds?: number;
  };
}

const count = (text: string, needle: string) => text.split(needle).length - 1;
/** The highest `tick-<n>` the counter printed on the console. */
const lastTick = (log: string) =>
  Math.max(0, ...[...log.matchAll(/^tick-(\d+)\r?$/gm)].map((m) => Number(m[1])));
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

// Real QEMU microvm under TCG, no network: what is tested is the guest's memory and disk.
test(
  'stop --save and start resume a counter in RAM and keep the disk; a mismatched or truncated state fails cleanly; snapshot create and rm',
  { timeout: 900_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const name = `snap-${process.pid}`;
    const inspect = async () =>
      JSON.parse((await ignite(['inspect', 'vm', name], { env })).stdout) as VMJSON;

    const run = await ignite(
      ['run', `${t.registry}/ignite-busybox`, '--name', name, '--net', 'none', '--memory', '256MB'],
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
    const uid = await waitForBusyboxInit(t.dataDir, run.stdout, 120_000);
    const vmDir = join(t.dataDir, 'vm', uid);
    const consoleLog = join(vmDir, 'console.log');
    const consoleSocket = join(vmDir, 'console.sock');
    await waitForText(consoleLog, 'ignite-busybox: ready', 60_000);
    await typeOnConsole(
      consoleSocket,
      'echo saved | rev > /root/before; sync; (i=0; while true; do i=$((i+1)); echo tick-$i; sleep 1; done) &',
    );
    await waitForText(consoleLog, /^tick-4\r?$/m, 60_000);

    // stop --save: the state is in the VM's directory, the VM is stopped.
    const save = await ignite(['stop', '--save', name], { env });
    assert.equal(save.code, 0, save.stderr);
    const stopped = await inspect();
    assert.equal(stopped.status.state, 'Stopped');
    assert.equal(stopped.status.desiredState, 'Stopped');
    assert.ok(await exists(join(vmDir, 'state')), 'the state is saved');
    assert.ok(await exists(join(vmDir, 'state.json')), 'with its sidecar');
    const before = lastTick(await readFile(consoleLog, 'utf8'));
    assert.ok(before >= 4, `the counter ran: ${before}`);

    // start resumes: the counter goes on from where it was, the guest did not boot again.
    const start = await ignite(['start', name], { env });
    assert.equal(start.code, 0, start.stderr);
    const restoredRun = (await inspect()).status.runtime;
    assert.equal(restoredRun?.restored, true);
    assert.ok((restoredRun?.restoreSeconds ?? 0) > 0, 'the restore is timed');
    const resumed = await waitForText(
      consoleLog,
      new RegExp(`^tick-${before + 2}\\r?$`, 'm'),
      60_000,
    );
    assert.equal(count(resumed, BUSYBOX_INIT), 1, 'no second boot');
    assert.doesNotMatch(resumed.slice(resumed.lastIndexOf(`tick-${before}`)), /^tick-1\r?$/m);
    assert.ok(!(await exists(join(vmDir, 'state'))), 'the spent state is removed');
    await typeOnConsole(consoleSocket, 'cat /root/before');
    await waitForText(consoleLog, 'devas', 30_000);

    // A state saved with 256 MiB does not restore into a VM of 128 MiB: a clear error, and
    // nothing left running.
    assert.equal((await ignite(['stop', '--save', name], { env })).code, 0);
    const metadataFile = join(vmDir, 'metadata.json');
    const original = await readFile(metadataFile, 'utf8');
    const changed = JSON.parse(original) as { spec: { memory: string } };
    changed.spec.memory = '128MB';
    await writeFile(metadataFile, JSON.stringify(changed));
    const mismatch = await ignite(['start', name], { env });
    assert.notEqual(mismatch.code, 0);
    assert.match(mismatch.stderr, /memory: saved with 256 MiB, this VM has 128 MiB/);
    assert.match(mismatch.stderr, new RegExp(`ignite stop ${name}.*discards it`));
    await assertNothingRunning(vmDir, await inspect());
    await writeFile(metadataFile, original);

    // A truncated state fails as clearly, and leaves nothing either.
    const state = join(vmDir, 'state');
    await truncate(state, (await stat(state)).size - 4096);
    const truncated = await ignite(['start', name], { env });
    assert.notEqual(truncated.code, 0);
    assert.match(truncated.stderr, /damaged: .*state is \d+ bytes, \d+ bytes were saved/);
    await assertNothingRunning(vmDir, await inspect());

    // A plain stop discards the state; start then boots afresh, the disk kept.
    assert.equal((await ignite(['stop', name], { env })).code, 0);
    assert.ok(!(await exists(state)) && !(await exists(`${state}.json`)), 'state discarded');
    assert.equal((await ignite(['start', name], { env })).code, 0);
    const fresh = await waitForText(consoleLog, /(ignite-busybox: ready[\s\S]*){2}/, 120_000);
    assert.equal(count(fresh, BUSYBOX_INIT), 2, 'booted afresh');
    assert.notEqual((await inspect()).status.runtime?.restored, true);
    await typeOnConsole(consoleSocket, 'cat /root/before; echo snap-$((6*7))');
    await waitForText(consoleLog, /devas[\s\S]*snap-42/, 30_000);

    // snapshot create: the VM goes on; the snapshot's files are under <dataDir>/snapshot/<uid>/.
    const create = await ignite(['snapshot', 'create', name, '--name', 's1'], { env });
    assert.equal(create.code, 0, create.stderr);
    const snapUID = create.stdout.trim();
    const list = JSON.parse(
      (await ignite(['snapshot', 'ls', '-o', 'json'], { env })).stdout,
    ) as SnapshotJSON[];
    assert.equal(list.length, 1);
    const s1 = list[0];
    assert.ok(s1);
    assert.equal(s1.metadata.uid, snapUID);
    assert.deepEqual(s1.spec.source, { name, uid });
    assert.equal(s1.spec.vmm, 'qemu');
    const snapDir = join(t.dataDir, 'snapshot', snapUID);
    assert.deepEqual(s1.status.files, {
      state: join(snapDir, 'state'),
      sidecar: join(snapDir, 'state.json'),
      disk: join(snapDir, 'disk.qcow2'),
    });
    for (const f of Object.values(s1.status.files ?? {})) assert.ok(await exists(f), f);
    assert.ok((s1.status.saveSeconds ?? 0) > 0);
    assert.equal((await inspect()).status.state, 'Running');
    await typeOnConsole(consoleSocket, 'echo after | rev > /root/after; sync; echo went-$((5*5))');
    await waitForText(consoleLog, 'went-25', 30_000);
    const shown = await ignite(['snapshot', 'inspect', 's1'], { env });
    assert.equal((JSON.parse(shown.stdout) as SnapshotJSON).metadata.uid, snapUID);

    // The VM's disk sits on the snapshot's: rm is refused while the VM exists.
    const refused = await ignite(['snapshot', 'rm', 's1'], { env });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, new RegExp(`snapshot "s1": in use by vm "${name}"`));

    // The VM writes over the snapshot's disk: after a stop and a start its files are all there.
    assert.equal((await ignite(['stop', name], { env })).code, 0);
    assert.deepEqual(
      (await readdir(vmDir)).filter((f) => f.startsWith('rootfs')),
      ['rootfs.qcow2'],
      'the new overlay took the root disk name',
    );
    assert.equal((await ignite(['start', name], { env })).code, 0);
    await waitForText(consoleLog, /(ignite-busybox: ready[\s\S]*){3}/, 120_000);
    await typeOnConsole(consoleSocket, 'cat /root/before /root/after');
    await waitForText(consoleLog, /devas\r?\nretfa/, 30_000);

    const rm = await ignite(['rm', '-f', name], { env });
    assert.equal(rm.code, 0, rm.stderr);
    assert.ok(await exists(snapDir), 'rm of the VM keeps the snapshot');
    const removed = await ignite(['snapshot', 'rm', 's1'], { env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.equal(removed.stdout.trim(), snapUID);
    assert.deepEqual(await readdir(join(t.dataDir, 'snapshot')), []);
    assert.equal((await ignite(['snapshot', 'ls', '-q'], { env })).stdout, '');
  },
);

/** After a failed start: the VM is stopped, with no supervisor, hypervisor or socket left. */
async function assertNothingRunning(vmDir: string, vm: VMJSON): Promise<void> {
  assert.equal(vm.status.state, 'Stopped');
  assert.equal(vm.status.runtime, undefined);
  for (const f of ['console.sock', 'control.sock', 'supervisor.sock', 'run.json'])
    assert.ok(!(await exists(join(vmDir, f))), `${f} is gone`);
  const log = await readFile(join(vmDir, 'spawn.log'), 'utf8');
  const pids = [...log.matchAll(/"pid":(\d+)/g)].map((m) => Number(m[1]));
  for (const pid of pids) assert.ok(!isProcessAlive(pid), `process ${pid} has ended`);
}

test(
  'clones of a snapshot resume its memory on their own disks; snapshot rm waits for them',
  { timeout: 900_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const src = `src-${process.pid}`;
    const run = await ignite(
      ['run', `${t.registry}/ignite-busybox`, '--name', src, '--net', 'none', '--memory', '256MB'],
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
    const srcUID = await waitForBusyboxInit(t.dataDir, run.stdout, 120_000);
    const srcLog = join(t.dataDir, 'vm', srcUID, 'console.log');
    await waitForText(srcLog, 'ignite-busybox: ready', 60_000);
    await typeOnConsole(
      join(t.dataDir, 'vm', srcUID, 'console.sock'),
      '(i=0; while true; do i=$((i+1)); echo tick-$i; sleep 1; done) &',
    );
    await waitForText(srcLog, /^tick-3\r?$/m, 60_000);
    const create = await ignite(['snapshot', 'create', src, '--name', 'base'], { env });
    assert.equal(create.code, 0, create.stderr);
    const snapUID = create.stdout.trim();
    const atSnapshot = lastTick(await readFile(srcLog, 'utf8'));

    // A clone with other settings than the state's is refused at start, with the reason.
    const other = await ignite(
      [
        'run',
        '--from-snapshot',
        'base',
        '--name',
        `bad-${process.pid}`,
        '--net',
        'none',
        '--memory',
        '128MB',
      ],
      { env },
    );
    assert.notEqual(other.code, 0);
    assert.match(other.stderr, /memory: saved with 256 MiB, this VM has 128 MiB/);
    assert.equal((await ignite(['rm', '-f', `bad-${process.pid}`], { env })).code, 0);

    const clones = [1, 2].map((n) => `c${n}-${process.pid}`);
    const dirs: string[] = [];
    for (const [i, name] of clones.entries()) {
      const r = await ignite(['run', '--from-snapshot', 'base', '--name', name, '--net', 'none'], {
        env,
      });
      assert.equal(r.code, 0, r.stderr);
      const dir = join(t.dataDir, 'vm', r.stdout.trim());
      dirs.push(dir);
      // The counter goes on from the snapshot's value, in a guest that never booted.
      const log = await waitForText(
        join(dir, 'console.log'),
        new RegExp(`^tick-${atSnapshot + 2}\\r?$`, 'm'),
        60_000,
      );
      assert.equal(count(log, BUSYBOX_INIT), 0, 'the clone did not boot');
      assert.ok(!/^tick-1\r?$/m.test(log), 'the counter did not start over');
      await typeOnConsole(
        join(dir, 'console.sock'),
        `echo ${'x'.repeat(i + 1)}-$((10+${i})) > /root/own; sync`,
      );
    }
    for (const [i, dir] of dirs.entries()) {
      await typeOnConsole(join(dir, 'console.sock'), 'cat /root/own');
      await waitForText(
        join(dir, 'console.log'),
        new RegExp(`^${'x'.repeat(i + 1)}-${10 + i}\\r?$`, 'm'),
        30_000,
      );
    }

    // Randomness (docs/snapshots.md): each clone's virtio-rng is fed by the host's /dev/urandom,
    // so past the first read (the bytes its driver had buffered before the snapshot, the same in
    // every clone) /dev/hwrng gives each its own. Its kernel mixes them into its pool and reseeds
    // from it at its next reseed: the snapshot was taken a few seconds after boot, when that is
    // due every half-uptime, so 8 s of the clone's time later their /dev/urandom differ.
    const drawn: { hw: string; urandom: string }[] = [];
    for (const dir of dirs) {
      const log = join(dir, 'console.log');
      await waitForText(log, new RegExp(`^tick-${atSnapshot + 8}\\r?$`, 'm'), 60_000);
      await typeOnConsole(
        join(dir, 'console.sock'),
        'head -c 8 /dev/hwrng >/dev/null; echo RNG-$(cat /sys/class/misc/hw_random/rng_current)-HW-$(head -c 8 /dev/hwrng | od -An -tx1 | tr -d " \\n")-UR-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n")',
      );
      const m = /^RNG-(\S+)-HW-([0-9a-f]{16})-UR-([0-9a-f]{32})\r?$/m.exec(
        await waitForText(log, /^RNG-\S+-HW-[0-9a-f]{16}-UR-[0-9a-f]{32}\r?$/m, 30_000),
      );
      assert.equal(m?.[1], 'virtio_rng.0', 'the clone reads the host through virtio-rng');
      drawn.push({ hw: m?.[2] ?? '', urandom: m?.[3] ?? '' });
    }
    assert.notEqual(drawn[0]?.hw, drawn[1]?.hw, 'each clone reads its own host bytes');
    assert.notEqual(drawn[0]?.urandom, drawn[1]?.urandom, 'the clones draw different randomness');

    // snapshot create --stop: the source stops, and its next start resumes that state.
    const stopAt = lastTick(await readFile(srcLog, 'utf8'));
    const second = await ignite(['snapshot', 'create', src, '--name', 'later', '--stop'], {
      env,
    });
    assert.equal(second.code, 0, second.stderr);
    const laterUID = second.stdout.trim();
    assert.match(
      (await ignite(['ps', '-a'], { env })).stdout,
      new RegExp(`Stopped\\s.*\\s${src}$`, 'm'),
    );
    assert.equal((await ignite(['start', src], { env })).code, 0);
    const srcResumed = await waitForText(
      srcLog,
      new RegExp(`^tick-${stopAt + 3}\\r?$`, 'm'),
      60_000,
    );
    assert.equal(count(srcResumed, BUSYBOX_INIT), 1, 'the source did not boot again');

    const refused = await ignite(['snapshot', 'rm', 'base'], { env });
    assert.notEqual(refused.code, 0);
    for (const name of [src, ...clones]) assert.match(refused.stderr, new RegExp(`vm "${name}"`));
    assert.match(refused.stderr, /snapshot "later"/);
    assert.equal((await ignite(['rm', '-f', src, ...clones], { env })).code, 0);
    // The later snapshot's disk sits on the first's: it goes first.
    assert.notEqual((await ignite(['snapshot', 'rm', 'base'], { env })).code, 0);
    const removed = await ignite(['snapshot', 'rm', 'later', 'base'], { env });
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(removed.stdout.trim().split('\n'), [laterUID, snapUID]);
    assert.deepEqual(await readdir(join(t.dataDir, 'snapshot')), []);
    assert.deepEqual(await readdir(join(t.dataDir, 'vm')), []);
  },
);

test(
  'three clones of a networked VM: each has its own address, NATed to the one its guest kept, and serves its own page',
  { timeout: 900_000 },
  async () => {
    assert.equal(process.getuid?.(), 0, 'networking needs root (CI runs as root)');
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const src = `nsrc-${process.pid}`;
    const inspect = async (n: string) =>
      JSON.parse((await ignite(['inspect', 'vm', n], { env })).stdout) as VMJSON & {
        status: { ipAddresses?: string[] };
      };
    const run = await ignite(
      ['run', `${t.registry}/ignite-busybox`, '--name', src, '--memory', '256MB'],
      { env },
    );
    assert.equal(run.code, 0, run.stderr);
    const srcUID = await waitForBusyboxInit(t.dataDir, run.stdout, 120_000);
    const srcIP = (await inspect(src)).status.ipAddresses?.[0] ?? '';
    const srcDir = join(t.dataDir, 'vm', srcUID);
    await waitForText(join(srcDir, 'console.log'), `ignite-busybox: lease ${srcIP}`, 90_000);
    await typeOnConsole(join(srcDir, 'console.sock'), 'httpd -p 80 -h /www; echo httpd-$((3*3))');
    await waitForText(join(srcDir, 'console.log'), 'httpd-9', 30_000);
    const snap = await ignite(['snapshot', 'create', src, '--name', 'web'], { env });
    assert.equal(snap.code, 0, snap.stderr);
    const spec = (
      JSON.parse((await ignite(['snapshot', 'inspect', 'web'], { env })).stdout) as {
        spec: { guestAddress?: string };
      }
    ).spec;
    assert.match(spec.guestAddress ?? '', new RegExp(`^${srcIP.replaceAll('.', '\\.')}/\\d+$`));

    const names = [1, 2, 3].map((n) => `nc${n}-${process.pid}`);
    const ips: string[] = [];
    for (const name of names) {
      const r = await ignite(['run', '--from-snapshot', 'web', '--name', name], { env });
      assert.equal(r.code, 0, r.stderr);
      ips.push((await inspect(name)).status.ipAddresses?.[0] ?? '');
    }
    assert.equal(new Set([srcIP, ...ips]).size, 4, `distinct addresses: ${srcIP} ${ips.join(' ')}`);
    const ps = (await ignite(['ps'], { env })).stdout;
    for (const [i, name] of names.entries())
      assert.match(ps, new RegExp(`${(ips[i] ?? '').replaceAll('.', '\\.')}\\s.*\\s${name}$`, 'm'));

    // Each clone's httpd (running since the snapshot) serves a page written after the restore.
    for (const [i, name] of names.entries()) {
      const dir = join(t.dataDir, 'vm', (await inspect(name)).metadata.uid);
      await typeOnConsole(join(dir, 'console.sock'), `echo clone-$((${i}+100)) > /www/own.txt`);
    }
    for (const [i, ip] of ips.entries()) {
      let body = '';
      for (let k = 0; k < 50 && !body.includes('clone-'); k++) {
        body = await fetch(`http://${ip}/own.txt`, { signal: AbortSignal.timeout(3000) }).then(
          (r) => r.text(),
          () => '',
        );
        if (!body.includes('clone-')) await new Promise((r) => setTimeout(r, 200));
      }
      assert.equal(body.trim(), `clone-${i + 100}`, `clone ${names[i]} at ${ip}`);
    }

    // stop --save and start of a networked VM: the same address, and its httpd goes on serving.
    assert.equal((await ignite(['stop', '--save', src], { env })).code, 0);
    // The saved VM holds its address while stopped; a VM created meanwhile gets another.
    assert.deepEqual(
      [...(await reservationsOf(srcUID)).entries()],
      [[srcIP, 'reserve0']],
      'held under the placeholder interface',
    );
    const probe = `probe-${process.pid}`;
    const created = await ignite(['create', `${t.registry}/ignite-busybox`, '--name', probe], {
      env,
    });
    assert.equal(created.code, 0, created.stderr);
    const reserved = await reservationsOf((await inspect(probe)).metadata.uid);
    assert.equal(reserved.size, 1);
    assert.ok(!reserved.has(srcIP), `the new VM did not get ${srcIP}`);
    assert.equal((await ignite(['rm', probe], { env })).code, 0);
    assert.equal((await ignite(['start', src], { env })).code, 0);
    assert.deepEqual((await inspect(src)).status.ipAddresses, [srcIP]);
    const page = await fetch(`http://${srcIP}/index.html`, { signal: AbortSignal.timeout(10_000) });
    assert.equal((await page.text()).trim(), 'hello from ignite-busybox');

    const uids = await Promise.all(
      [src, ...names].map(async (n) => (await inspect(n)).metadata.uid),
    );
    assert.equal((await ignite(['rm', '-f', src, ...names], { env })).code, 0);
    for (const uid of uids) assert.deepEqual(await leftovers(uid), [], `vm ${uid} left nothing`);
    assert.equal((await ignite(['snapshot', 'rm', 'web'], { env })).code, 0);
    assert.deepEqual(await readdir(join(t.dataDir, 'snapshot')), []);
  },
);
