import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DATA_DIR,
  fakeServices,
  messages,
  SPAWN_ENTRY,
  type FakeServices,
} from '../../test/fakes/fake-services.js';
import {
  installSupervisor,
  recordRunning,
  stuckProcess,
} from '../../test/fakes/fake-supervisor.js';
import type { GuestShutdown } from '../../test/fakes/fake-vmm.js';
import { createVM } from './create-vm.js';
import { startVM } from './start-vm.js';
import { stopVM, type StopVMOptions } from './stop-vm.js';

/** A VM started through an in-process supervisor whose guest does `guest` on power-off. */
async function running(
  guest: GuestShutdown,
): Promise<{ s: FakeServices; uid: string; spawnPid: number; hvPid: number }> {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  s.drivers.qemu.guest = guest;
  const vm = await createVM(s, { image: 'busybox', name: 'web' });
  const started = await startVM(s, 'web');
  return {
    s,
    uid: vm.metadata.uid,
    spawnPid: started.status.runtime?.spawnPid ?? 0,
    hvPid: started.status.runtime?.pid ?? 0,
  };
}

function signalsTo(s: FakeServices, pid: number): string[] {
  return s.processes.signals.filter((x) => x.pid === pid).map((x) => x.signal);
}

/** The signals the host supervisor was asked to deliver to the VM's run. */
function asked(s: FakeServices, uid: string): string[] {
  return s.requests.sent
    .map((x) => x.request as { op?: string; uid?: string; signal?: string })
    .filter((r) => r.op === 'signal' && r.uid === uid)
    .map((r) => r.signal ?? '');
}

/** A host supervisor that lives but answers nothing, supervising `uid`. */
async function stuckSupervisor(s: FakeServices, uid: string) {
  const p = stuckProcess(s, ['node', SPAWN_ENTRY, '--supervise-host', '--data-dir', DATA_DIR]);
  await s.runtimeFiles.markSupervised(uid, p.pid);
  return p;
}

test('stopVM: how the supervisor is told, and when it is killed', async (t) => {
  const cases: {
    name: string;
    guest: GuestShutdown;
    options?: StopVMOptions;
    signals: string[];
    waitedAtLeast: number;
    warning?: string;
  }[] = [
    {
      name: 'SIGTERM, and the guest powers off',
      guest: 'powers-off',
      signals: ['SIGTERM'],
      waitedAtLeast: 0,
    },
    {
      name: 'a guest that ignores the power button is killed after 30 s',
      guest: 'ignores',
      signals: ['SIGTERM', 'SIGQUIT'],
      waitedAtLeast: 30_000,
      warning: 'vm "web": did not power off within 30 s, killing it',
    },
    {
      name: 'the timeout given',
      guest: 'ignores',
      options: { timeoutMs: 5_000 },
      signals: ['SIGTERM', 'SIGQUIT'],
      waitedAtLeast: 5_000,
      warning: 'vm "web": did not power off within 5 s, killing it',
    },
    {
      name: 'kill: SIGQUIT at once',
      guest: 'ignores',
      options: { kill: true },
      signals: ['SIGQUIT'],
      waitedAtLeast: 0,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const { s, uid, spawnPid, hvPid } = await running(c.guest);
      const t0 = s.clock.now().getTime();
      const stopped = await stopVM(s, 'web', c.options);
      const waited = s.clock.now().getTime() - t0;
      assert.equal(stopped.status.state, 'Stopped');
      assert.equal(stopped.status.runtime, undefined);
      assert.deepEqual(asked(s, uid), c.signals);
      assert.deepEqual(signalsTo(s, spawnPid), [], 'the host supervisor itself is not signalled');
      assert.deepEqual(signalsTo(s, hvPid), c.signals.includes('SIGQUIT') ? ['SIGKILL'] : []);
      assert.ok(waited >= c.waitedAtLeast && waited < c.waitedAtLeast + 1_000, `waited ${waited}`);
      assert.equal(s.runtimeFiles.supervisedBy(uid), undefined, 'no longer supervised');
      assert.equal(s.processes.isAlive(spawnPid), true, 'the supervisor stays, for other VMs');
      assert.equal(s.processes.isAlive(hvPid), false, 'hypervisor gone');
      assert.ok(s.network.opsFor(uid).includes('detach'));
      if (c.warning !== undefined) assert.ok(messages(s, 40).includes(c.warning));
      else assert.deepEqual(messages(s, 40), []);
    });
  }
});

test('stopVM: a supervisor that does not end the run has its hypervisor killed and the run taken from it', async () => {
  const s = fakeServices();
  const vm = await createVM(s, { image: 'busybox', name: 'web' });
  const uid = vm.metadata.uid;
  const spawn = await stuckSupervisor(s, uid);
  const hv = stuckProcess(s, ['qemu-system-x86_64', '-name', 'web', `${DATA_DIR}/vm/${uid}`]);
  await recordRunning(s, uid, { spawnPid: spawn.pid, pid: hv.pid });
  await s.runtimeFiles.writeRunRecord(uid, { state: 'Running' });

  const stopped = await stopVM(s, 'web');
  assert.deepEqual(spawn.received, [], 'a supervisor of other VMs too is never killed for one');
  assert.ok(spawn.alive);
  assert.deepEqual(hv.received, ['SIGKILL']);
  assert.equal(stopped.status.state, 'Stopped');
  assert.equal(stopped.status.lastExit?.reason, 'Killed');
  assert.equal(s.runtimeFiles.supervisedBy(uid), undefined);
  assert.equal(stopped.status.ipAddresses, undefined);
  assert.equal(s.runtimeFiles.readRunRecord(uid), undefined, 'run record removed');
  assert.deepEqual(s.network.opsFor(uid), ['reserve', 'detach']);
  assert.ok(
    s.network.calls.some((c) => c.op === 'sweep'),
    'leftovers swept',
  );
});

test('stopVM never signals a PID that another process now has', async (t) => {
  const cases: {
    name: string;
    /** Which of the recorded PIDs went to an unrelated program. */
    reused: 'supervisor' | 'hypervisor' | 'both';
    /** What the VM's own supervisor, when there is one, is sent. */
    supervisorGets: string[];
  }[] = [
    { name: "the supervisor's PID", reused: 'supervisor', supervisorGets: [] },
    {
      name: "the hypervisor's PID, behind a stuck supervisor",
      reused: 'hypervisor',
      supervisorGets: [],
    },
    { name: 'both', reused: 'both', supervisorGets: [] },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      const vm = await createVM(s, { image: 'busybox', name: 'web' });
      const uid = vm.metadata.uid;
      const stranger = (): number => s.processes.add(['/usr/sbin/sshd', '-D']).pid;
      const own = c.reused === 'hypervisor' ? await stuckSupervisor(s, uid) : undefined;
      const spawnPid = own?.pid ?? stranger();
      if (own === undefined) await s.runtimeFiles.markSupervised(uid, spawnPid);
      const orphan = c.reused === 'supervisor' ? stuckProcess(s, ['qemu', uid]) : undefined;
      const hvPid = orphan?.pid ?? stranger();
      await recordRunning(s, uid, { spawnPid, pid: hvPid });

      const stopped = await stopVM(s, 'web', { timeoutMs: 1_000 });
      assert.equal(stopped.status.state, 'Stopped');
      for (const p of s.processes.table.values()) {
        if (p.argv[0] === '/usr/sbin/sshd') {
          assert.deepEqual(p.received, [], `pid ${p.pid} (${p.argv[0]}) was signalled`);
          assert.ok(p.alive);
        }
      }
      if (own) assert.deepEqual(own.received, c.supervisorGets);
      // A hypervisor whose supervisor is gone is the VM's own (its UID in its argv): it goes.
      if (orphan) assert.deepEqual(orphan.received, ['SIGKILL']);
    });
  }
});

test('stopVM on a VM that is not running is a no-op', async () => {
  const s = fakeServices();
  await createVM(s, { image: 'busybox', name: 'web' });
  const vm = await stopVM(s, 'web');
  assert.equal(vm.status.state, 'Created');
  assert.deepEqual(s.processes.signals, []);
  assert.ok(messages(s).includes('vm "web": not running'));
});
