import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  eventually,
  startTestFleet,
  watchForDoubleRuns,
  type TestFleet,
} from '../helpers/fleet.js';
import { testRepo, vmManifest } from '../helpers/git-repo.js';

// A fleet on one machine: a real 3-member etcd cluster and three real `ignited` agents, each
// with its own data dir and runtime dir, booting real TCG microVMs. Each VM asks for 1 vCPU and
// 64 MiB; each host offers 3 vCPUs, so placement by capacity is what spreads them.

interface FleetVM {
  metadata: { name: string; uid: string };
  spec: { placement?: { reschedule?: boolean } };
  status: { state: string; host?: string; lastExit?: { reason: string } };
}

const LEASE_TTL_S = 5;
const GRACE_S = 3;

async function ps(fleet: TestFleet, from: number): Promise<FleetVM[]> {
  const r = await fleet.cli(from, ['ps', '-a', '-o', 'json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as FleetVM[];
}

async function vmOf(fleet: TestFleet, name: string, from = 0): Promise<FleetVM | undefined> {
  return (await ps(fleet, from)).find((v) => v.metadata.name === name);
}

/** Removes every VM and uncordons every host, so a case starts from an empty fleet even after one failed. */
async function clearFleet(fleet: TestFleet): Promise<void> {
  const ids = (await fleet.cli(0, ['ps', '-a', '-q'])).stdout.split('\n').filter(Boolean);
  if (ids.length > 0) {
    const rm = await fleet.cli(0, ['rm', '-f', ...ids]);
    assert.equal(rm.code, 0, rm.stderr);
  }
  for (const h of fleet.hosts) await fleet.cli(0, ['host', 'uncordon', h.name]);
}

const run = (name: string, ...extra: string[]) => [
  'run',
  'ignite-busybox',
  '--name',
  name,
  '--cpus',
  '1',
  '--memory',
  '64MB',
  '--size',
  '256MB',
  '--net',
  'none',
  ...extra,
];

test(
  'fleet: placement by capacity, host loss with rescheduling and fencing, a frozen agent, etcd quorum, gitops into the fleet; never one VM on two hosts',
  { timeout: 900_000 },
  async (t) => {
    await using fleet = await startTestFleet({
      capacityCPUs: 3,
      capacityMemory: '384MB',
      leaseTTLSeconds: LEASE_TTL_S,
      rescheduleGraceSeconds: GRACE_S,
    });
    const image = `${fleet.registry}/ignite-busybox`;
    const runOn = (i: number, name: string, ...extra: string[]) =>
      fleet.cli(
        i,
        run(name, ...extra).map((a) => (a === 'ignite-busybox' ? image : a)),
      );
    // The invariant, sampled from /proc across every case below.
    const sampler = watchForDoubleRuns(fleet, 200);

    await t.test(
      'six VMs from host 1 spread by capacity, boot, and are seen from host 3',
      async () => {
        const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
        const results = await Promise.all(names.map((n) => runOn(0, n)));
        for (const r of results) assert.equal(r.code, 0, r.stderr);
        const vms = (await ps(fleet, 2)).filter((v) => names.includes(v.metadata.name));
        assert.equal(vms.length, 6);
        const perHost = new Map<string, number>();
        for (const v of vms) {
          assert.equal(v.status.state, 'Running', `${v.metadata.name}: ${v.status.state}`);
          assert.ok(v.status.host, `${v.metadata.name} has a host`);
          perHost.set(v.status.host, (perHost.get(v.status.host) ?? 0) + 1);
        }
        // 3 vCPUs a host: none over capacity, and with most-free-first, two on each.
        assert.deepEqual([...perHost.entries()].sort(), [
          ['h1', 2],
          ['h2', 2],
          ['h3', 2],
        ]);
        // The hypervisor of each really runs on the host it is placed on.
        const procs = await fleet.hypervisors();
        for (const v of vms) assert.deepEqual(procs.get(v.metadata.uid), [v.status.host]);
        // `logs` from any host reaches the owner's console log.
        for (const v of vms) {
          const logs = await eventually(
            `${v.metadata.name}: init line`,
            async () => {
              const r = await fleet.cli(1, ['logs', v.metadata.name]);
              return /ignite-busybox: init started/.test(r.stdout) ? r.stdout : undefined;
            },
            60_000,
          );
          assert.match(logs, /ignite-busybox: init started/);
        }
        const table = await fleet.cli(2, ['ps']);
        assert.match(table.stdout, /^VM ID\s.*\sHOST\b/m);
        const rm = await fleet.cli(2, ['rm', '-f', ...names]);
        assert.equal(rm.code, 0, rm.stderr);
        assert.deepEqual(await fleet.hypervisors(), new Map());
      },
    );

    await t.test(
      'exec, inspect, metrics and stop from other hosts reach the VM on its own host',
      async () => {
        await clearFleet(fleet);
        // Debian's sshd behind user-mode networking: SSH needs a network, and this one is the
        // VM's own, so the three hosts on one machine do not share a bridge.
        const r = await fleet.cli(0, [
          'run',
          `${fleet.registry}/ignite-debian:slim`,
          '--name',
          'shell',
          '--on-host',
          'h2',
          '--net',
          'user',
          '--ssh',
          '--cpus',
          '1',
          '--memory',
          '128MB',
        ]);
        assert.equal(r.code, 0, r.stderr);
        // From h3 (h2's key and sshd are reached through h2's agent): stdin goes in, stdout and
        // stderr come out apart, and the guest's exit status is the CLI's.
        const script = 'read -r line; echo "$(hostname): $line"; echo to-stderr >&2; exit 7';
        const exec = await fleet.cli(
          2,
          ['exec', 'shell', '--timeout', '180s', '--', 'sh', '-c', script],
          240_000,
          'from h3\n',
        );
        assert.equal(exec.code, 7, exec.stderr);
        assert.equal(exec.stdout, 'shell: from h3\n');
        assert.equal(exec.stderr, 'to-stderr\n');
        const inspect = await fleet.cli(2, ['inspect', 'vm', 'shell']);
        assert.equal(inspect.code, 0, inspect.stderr);
        const vm = JSON.parse(inspect.stdout) as FleetVM;
        assert.equal(vm.status.host, 'h2');
        assert.equal(vm.status.state, 'Running');
        const metrics = await fleet.cli(0, ['metrics', 'shell']);
        assert.equal(metrics.code, 0, metrics.stderr);
        assert.match(metrics.stdout, /^ignite_vm_info\{[^}]*vm_name="shell"/m);
        const stop = await fleet.cli(2, ['stop', 'shell']);
        assert.equal(stop.code, 0, stop.stderr);
        assert.equal((await vmOf(fleet, 'shell', 1))?.status.state, 'Stopped');
        assert.equal((await fleet.hypervisors()).get(vm.metadata.uid), undefined);
        assert.equal((await fleet.cli(0, ['rm', 'shell'])).code, 0);
      },
    );

    await t.test(
      'host 2 dies: its VMs turn Unknown, the replaceable one moves, the other waits and comes back',
      async () => {
        await clearFleet(fleet);
        // Both land on h2: the others are drained while they are placed.
        for (const h of ['h1', 'h3'])
          assert.equal((await fleet.cli(0, ['host', 'drain', h])).code, 0);
        const keep = await runOn(0, 'keep');
        assert.equal(keep.code, 0, keep.stderr);
        const move = await runOn(0, 'move', '--reschedule');
        assert.equal(move.code, 0, move.stderr);
        for (const h of ['h1', 'h3'])
          assert.equal((await fleet.cli(0, ['host', 'uncordon', h])).code, 0);
        assert.equal((await vmOf(fleet, 'keep'))?.status.host, 'h2');
        assert.equal((await vmOf(fleet, 'move'))?.status.host, 'h2');

        const h2 = fleet.hosts[1];
        assert.ok(h2?.daemon);
        // The agent and every process of its VMs (supervisors and hypervisors) die at once.
        const lostAt = Date.now();
        await h2.daemon.killGroup();
        for (const [uid, on] of await fleet.hypervisors())
          if (on.includes('h2')) await killVMProcesses(uid, h2.dataDir);

        await eventually(
          'both h2 VMs Unknown',
          async () => {
            const vms = await ps(fleet, 0);
            const s = (n: string) => vms.find((v) => v.metadata.name === n)?.status;
            return s('keep')?.state === 'Unknown' && s('move')?.state === 'Unknown'
              ? true
              : undefined;
          },
          (LEASE_TTL_S + GRACE_S) * 1000 + 2000,
        );
        const hosts = await fleet.cli(0, ['host', 'ls', '-o', 'json']);
        assert.equal(hosts.code, 0, hosts.stderr);
        const rows = JSON.parse(hosts.stdout) as { name: string; status: string }[];
        assert.deepEqual(
          rows.map((h) => [h.name, h.status]),
          [
            ['h1', 'Ready'],
            ['h2', 'NotReady'],
            ['h3', 'Ready'],
          ],
        );
        const moved = await eventually(
          'the replaceable VM running elsewhere',
          async () => {
            const v = await vmOf(fleet, 'move');
            return v?.status.state === 'Running' && v.status.host !== 'h2' ? v : undefined;
          },
          120_000,
        );
        assert.ok(
          Date.now() - lostAt >= (LEASE_TTL_S + GRACE_S) * 1000 - 1000,
          'not moved before TTL + grace',
        );
        assert.ok(['h1', 'h3'].includes(moved.status.host ?? ''));
        assert.equal((await vmOf(fleet, 'keep'))?.status.state, 'Unknown');

        await h2.start();
        const back = await eventually(
          'the non-replaceable VM running on h2 again',
          async () => {
            const v = await vmOf(fleet, 'keep');
            return v?.status.state === 'Running' ? v : undefined;
          },
          120_000,
        );
        assert.equal(back.status.host, 'h2');
        // h2 keeps no copy of the VM that moved away.
        const procs = await fleet.hypervisors();
        assert.deepEqual(procs.get(moved.metadata.uid), [moved.status.host]);

        // Draining the host the replaceable VM moved to moves it on at once; `keep` stays.
        const from = moved.status.host ?? '';
        const drain = await fleet.cli(0, ['host', 'drain', from]);
        assert.equal(drain.code, 0, drain.stderr);
        const again = await eventually(
          'the replaceable VM running off the drained host',
          async () => {
            const v = await vmOf(fleet, 'move');
            return v?.status.state === 'Running' && v.status.host !== from ? v : undefined;
          },
          60_000,
        );
        assert.deepEqual((await fleet.hypervisors()).get(again.metadata.uid), [again.status.host]);
        const listed = JSON.parse((await fleet.cli(0, ['host', 'ls', '-o', 'json'])).stdout) as {
          name: string;
          status: string;
        }[];
        assert.equal(listed.find((h) => h.name === from)?.status, 'Ready,SchedulingDisabled');
        assert.equal((await fleet.cli(0, ['host', 'uncordon', from])).code, 0);
        assert.equal((await fleet.cli(0, ['rm', '-f', 'keep', 'move'])).code, 0);
      },
    );

    await t.test(
      'host 3 frozen past its lease: its replaceable VM is fenced there before it runs elsewhere',
      async () => {
        await clearFleet(fleet);
        for (const h of ['h1', 'h2'])
          assert.equal((await fleet.cli(0, ['host', 'drain', h])).code, 0);
        const r = await runOn(0, 'frozen', '--reschedule');
        assert.equal(r.code, 0, r.stderr);
        for (const h of ['h1', 'h2'])
          assert.equal((await fleet.cli(0, ['host', 'uncordon', h])).code, 0);
        const before = await vmOf(fleet, 'frozen');
        assert.equal(before?.status.host, 'h3');
        const h3 = fleet.hosts[2];
        assert.ok(h3?.daemon?.child.pid);
        process.kill(h3.daemon.child.pid, 'SIGSTOP');
        try {
          const moved = await eventually(
            'the VM running on another host',
            async () => {
              const v = await vmOf(fleet, 'frozen');
              return v?.status.state === 'Running' && v.status.host !== 'h3' ? v : undefined;
            },
            120_000,
          );
          assert.ok(moved.status.host);
        } finally {
          process.kill(h3.daemon.child.pid, 'SIGCONT');
        }
        // Back, h3's agent finds the VM placed elsewhere and leaves it there.
        await new Promise((r) => setTimeout(r, (LEASE_TTL_S + 1) * 1000));
        const after = await vmOf(fleet, 'frozen');
        assert.notEqual(after?.status.host, 'h3');
        assert.deepEqual((await fleet.hypervisors()).get(before.metadata.uid), [
          after?.status.host,
        ]);
        assert.equal((await fleet.cli(0, ['rm', '-f', 'frozen'])).code, 0);
      },
    );

    await t.test(
      'etcd quorum: one member down changes nothing; two down fail clearly and keep VMs running',
      async () => {
        await clearFleet(fleet);
        const a = await runOn(0, 'q1');
        assert.equal(a.code, 0, a.stderr);
        await fleet.etcd.kill('m1');
        const b = await runOn(1, 'q2');
        assert.equal(b.code, 0, b.stderr);
        const stop = await fleet.cli(2, ['stop', 'q2']);
        assert.equal(stop.code, 0, stop.stderr);
        const q1 = await vmOf(fleet, 'q1', 1);
        assert.ok(q1);
        await fleet.etcd.kill('m2');
        const started = Date.now();
        const c = await runOn(0, 'q3');
        assert.notEqual(c.code, 0);
        assert.ok(Date.now() - started < 10_000, `failed after ${Date.now() - started} ms`);
        assert.match(c.stderr, /^Error: .*etcd at 127\.0\.0\.1/m);
        assert.equal(c.code, 7, 'Unavailable');
        // The VM that ran before quorum was lost still runs (it is not replaceable).
        assert.deepEqual((await fleet.hypervisors()).get(q1.metadata.uid), [q1.status.host]);
        await fleet.etcd.restart('m1');
        await fleet.etcd.restart('m2');
        await fleet.etcd.waitHealthy();
        const d = await eventually(
          'a run after quorum returned',
          async () => {
            const r = await runOn(2, 'q4');
            return r.code === 0 ? r : undefined;
          },
          60_000,
          1000,
        );
        assert.equal(d.code, 0);
        const vms = await ps(fleet, 0);
        assert.equal(vms.find((v) => v.metadata.name === 'q1')?.status.state, 'Running');
        assert.equal(vms.find((v) => v.metadata.name === 'q2')?.status.state, 'Stopped');
        assert.equal(vms.find((v) => v.metadata.name === 'q4')?.status.state, 'Running');
        assert.equal(
          vms.some((v) => v.metadata.name === 'q3'),
          false,
          'the failed run left nothing',
        );
        assert.equal((await fleet.cli(0, ['rm', '-f', 'q1', 'q2', 'q4'])).code, 0);
      },
    );

    await t.test(
      'gitops: nine manifests in a repository run, spread across the hosts',
      async () => {
        await clearFleet(fleet);
        await using repo = await testRepo();
        const files: Record<string, string> = {};
        for (let i = 1; i <= 9; i++)
          files[`vms/g${i}.yaml`] = vmManifest(`g${i}`, image, {
            state: 'Running',
            memory: '64MB',
          });
        await repo.commit(files);
        const r = await fleet.cli(0, ['gitops', repo.url, '--once', '-o', 'json'], 300_000);
        assert.equal(r.code, 0, r.stderr);
        const running = await eventually(
          'nine gitops VMs running',
          async () => {
            const vms = (await ps(fleet, 1)).filter((v) => /^g\d$/.test(v.metadata.name));
            return vms.length === 9 && vms.every((v) => v.status.state === 'Running')
              ? vms
              : undefined;
          },
          180_000,
          1000,
        );
        const hosts = new Set(running.map((v) => v.status.host));
        assert.deepEqual([...hosts].sort(), ['h1', 'h2', 'h3']);
        assert.equal(
          (await fleet.cli(0, ['rm', '-f', ...running.map((v) => v.metadata.name)])).code,
          0,
        );
      },
    );

    const { samples, doubles } = await sampler.stop();
    assert.ok(samples > 100, `sampled ${samples} times`);
    assert.deepEqual(doubles, [], 'a VM ran on two hosts at once');
  },
);

/** SIGKILLs the supervisor and hypervisor of one VM of a host, as a crashing host would lose them. */
async function killVMProcesses(uid: string, dataDir: string): Promise<void> {
  const { readdir, readFile } = await import('node:fs/promises');
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmd = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(`${dataDir}/vm/${uid}`) || (cmd.includes('ignite-spawn') && cmd.includes(uid)))
      try {
        process.kill(Number(entry), 'SIGKILL');
      } catch {
        // Already gone.
      }
  }
}
