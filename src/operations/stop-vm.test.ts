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
      assert.deepEqual(signalsTo(s, spawnPid), c.signals);
      assert.deepEqual(signalsTo(s, hvPid), c.signals.includes('SIGQUIT') ? ['SIGKILL'] : []);
      assert.ok(waited >= c.waitedAtLeast && waited < c.waitedAtLeast + 1_000, `waited ${waited}`);
      assert.equal(s.processes.isAlive(spawnPid), false, 'supervisor gone');
      assert.equal(s.processes.isAlive(hvPid), false, 'hypervisor gone');
      assert.ok(s.network.opsFor(uid).includes('detach'));
      if (c.warning !== undefined) assert.ok(messages(s, 40).includes(c.warning));
      else assert.deepEqual(messages(s, 40), []);
    });
  }
});

test('stopVM: a supervisor stuck past SIGQUIT is killed with its hypervisor, and cleaned up after', async () => {
  const s = fakeServices();
  const vm = await createVM(s, { image: 'busybox', name: 'web' });
  const uid = vm.metadata.uid;
  const spawn = stuckProcess(s, ['node', SPAWN_ENTRY, uid, '--data-dir', DATA_DIR]);
  const hv = stuckProcess(s, ['qemu-system-x86_64', '-name', 'web', `${DATA_DIR}/vm/${uid}`]);
  await recordRunning(s, uid, { spawnPid: spawn.pid, pid: hv.pid });
  await s.runtimeFiles.writeRunRecord(uid, { state: 'Running' });

  const stopped = await stopVM(s, 'web');
  assert.deepEqual(spawn.received, ['SIGTERM', 'SIGQUIT', 'SIGKILL']);
  assert.deepEqual(hv.received, ['SIGKILL']);
  assert.equal(stopped.status.state, 'Stopped');
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
      supervisorGets: ['SIGTERM', 'SIGQUIT', 'SIGKILL'],
    },
    { name: 'both', reused: 'both', supervisorGets: [] },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      const vm = await createVM(s, { image: 'busybox', name: 'web' });
      const uid = vm.metadata.uid;
      const stranger = (): number => s.processes.add(['/usr/sbin/sshd', '-D']).pid;
      const own =
        c.reused === 'hypervisor'
          ? stuckProcess(s, ['node', SPAWN_ENTRY, uid, '--data-dir', DATA_DIR])
          : undefined;
      const spawnPid = own?.pid ?? stranger();
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
