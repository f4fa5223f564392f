import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Size, type VMExit } from '../api/index.js';
import {
  DATA_DIR,
  fakeServices,
  SPAWN_ENTRY,
  untilState,
  type FakeServices,
} from '../../test/fakes/fake-services.js';
import {
  installSupervisor,
  recordRunning,
  stuckProcess,
} from '../../test/fakes/fake-supervisor.js';
import type { GuestShutdown } from '../../test/fakes/fake-vmm.js';
import type { HandledSignal } from '../system/program-io.js';
import { createVM } from './create-vm.js';
import { listVMs } from './list-vms.js';
import { runVM } from './run-vm.js';
import { startVM } from './start-vm.js';
import { stopVM } from './stop-vm.js';
import { superviseVM } from './supervise-vm.js';

async function created(s: FakeServices): Promise<string> {
  const vm = await createVM(s, { image: 'busybox', name: 'web', logMaxSize: Size.parse('1MB') });
  return vm.metadata.uid;
}

test('run and start record that the VM should run; stop and kill that it should not', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const run = await runVM(
    s,
    { image: 'busybox', name: 'web' },
    { startTimeoutMs: 60_000, sshTimeoutMs: 1_000 },
  );
  assert.equal(run.status.desiredState, 'Running');
  const uid = run.metadata.uid;
  const desired = async () => (await s.client.vms.get(uid)).status.desiredState;

  assert.equal((await stopVM(s, 'web')).status.desiredState, 'Stopped');
  assert.equal((await startVM(s, 'web')).status.desiredState, 'Running');
  assert.equal((await stopVM(s, 'web', { kill: true })).status.desiredState, 'Stopped');
  assert.equal((await startVM(s, 'web')).status.desiredState, 'Running');
  assert.equal(await desired(), 'Running', 'what the supervisor wrote since kept it');

  // A VM that does not run still gets its desired state: ignited may be about to restart it.
  await stopVM(s, 'web');
  assert.equal((await stopVM(s, 'web')).status.desiredState, 'Stopped');
  const made = await createVM(s, { image: 'busybox', name: 'made' });
  assert.equal(made.status.desiredState, undefined, 'create asks for nothing');
});

test('the supervisor records how the hypervisor ended', async (t) => {
  const cases: {
    name: string;
    guest: GuestShutdown;
    end: HandledSignal[] | 'guest powers off' | 'hypervisor killed';
    want: Omit<VMExit, 'time'>;
  }[] = [
    {
      name: 'SIGTERM: asked to stop',
      guest: 'powers-off',
      end: ['SIGTERM'],
      want: { reason: 'Stopped' },
    },
    {
      name: 'SIGTERM, then killed after the timeout: still asked to stop',
      guest: 'ignores',
      end: ['SIGTERM'],
      want: { reason: 'Stopped' },
    },
    {
      name: 'SIGQUIT: asked to kill',
      guest: 'ignores',
      end: ['SIGQUIT'],
      want: { reason: 'Killed' },
    },
    {
      name: 'SIGTERM, then SIGQUIT: killed',
      guest: 'ignores',
      end: ['SIGTERM', 'SIGQUIT'],
      want: { reason: 'Killed' },
    },
    {
      name: 'the guest powers off',
      guest: 'powers-off',
      end: 'guest powers off',
      want: { reason: 'PoweredOff' },
    },
    {
      name: 'the hypervisor is killed by someone else',
      guest: 'powers-off',
      end: 'hypervisor killed',
      want: { reason: 'Crashed', signal: 'SIGKILL' },
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      s.drivers.qemu.guest = c.guest;
      const uid = await created(s);
      const run = superviseVM(s, uid, { stopTimeoutMs: 30 });
      await untilState(s, uid, 'Running');
      const hv = s.drivers.qemu.running[0]?.pid ?? 0;
      if (c.end === 'guest powers off') s.processes.exit(hv);
      else if (c.end === 'hypervisor killed') s.processes.signal(hv, 'SIGKILL');
      else for (const sig of c.end) s.signals.emit(sig);
      await run;
      const vm = await s.client.vms.get(uid);
      assert.equal(vm.status.state, 'Stopped');
      assert.deepEqual(vm.status.lastExit, { time: s.clock.now().toISOString(), ...c.want });
    });
  }
});

test('a boot that fails records no exit; a restart by the policy is counted as it runs', async () => {
  const s = fakeServices();
  const uid = await created(s);
  s.drivers.qemu.failStart = new Error('qemu: /dev/kvm: permission denied');
  await assert.rejects(superviseVM(s, uid, { policyRestart: true }));
  let vm = await s.client.vms.get(uid);
  assert.equal(vm.status.lastExit, undefined);
  assert.equal(vm.status.restartCount, undefined, 'a run that never started is not counted here');

  delete s.drivers.qemu.failStart;
  for (const want of [1, 2]) {
    const run = superviseVM(s, uid, { policyRestart: true });
    vm = await untilState(s, uid, 'Running');
    assert.equal(vm.status.restartCount, want, 'counted in the write that records it Running');
    s.processes.exit(s.drivers.qemu.running.at(-1)?.pid ?? 0);
    await run;
  }
  const plain = superviseVM(s, uid);
  assert.equal(
    (await untilState(s, uid, 'Running')).status.restartCount,
    2,
    'a plain start is not',
  );
  s.processes.exit(s.drivers.qemu.running.at(-1)?.pid ?? 0);
  await plain;
});

test('a VM found Running with its supervisor gone is recorded Crashed', async () => {
  const s = fakeServices();
  const uid = await created(s);
  const gone = s.processes.add(['node', SPAWN_ENTRY, uid]);
  s.processes.exit(gone.pid, 'SIGKILL');
  await recordRunning(s, uid, { spawnPid: gone.pid });
  const [vm] = await listVMs(s, { all: true, filters: [] });
  assert.equal(vm?.status.state, 'Stopped');
  assert.deepEqual(vm.status.lastExit, {
    time: s.clock.now().toISOString(),
    reason: 'Crashed',
    message: 'supervisor gone',
  });
});

test('a stop that has to take the run from a stuck supervisor records the VM Killed, not crashed', async () => {
  const s = fakeServices();
  const uid = await created(s);
  const spawn = stuckProcess(s, ['node', SPAWN_ENTRY, '--supervise-host', '--data-dir', DATA_DIR]);
  await s.runtimeFiles.markSupervised(uid, spawn.pid);
  await recordRunning(s, uid, { spawnPid: spawn.pid });
  const stopped = await stopVM(s, 'web');
  assert.equal(stopped.status.state, 'Stopped');
  assert.equal(stopped.status.desiredState, 'Stopped');
  assert.deepEqual(stopped.status.lastExit, {
    time: s.clock.now().toISOString(),
    reason: 'Killed',
    message: 'supervisor did not end the run; killed',
  });
});
