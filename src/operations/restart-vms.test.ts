import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRestartPolicy, type StoredVM } from '../api/index.js';
import type { Clock } from '../system/clock.js';
import type { FakeClock } from '../../test/fakes/fake-clock.js';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import {
  installSupervisor,
  recordRunning,
  type FakeSupervisor,
} from '../../test/fakes/fake-supervisor.js';
import { createVM } from './create-vm.js';
import { RestartManager } from './restart-vms.js';
import { startVM } from './start-vm.js';
import { stopVM } from './stop-vm.js';

/**
 * The manager's clock: the services' time, and waits that end only when the test lets the time
 * pass (`elapse`), so each backoff the manager asks for can be seen.
 */
class Timers implements Clock {
  readonly waits: number[] = [];
  private pending: { ms: number; wake: () => void }[] = [];
  constructor(private readonly base: FakeClock) {}
  now(): Date {
    return this.base.now();
  }
  sleep(ms: number): Promise<void> {
    this.waits.push(ms);
    return new Promise((wake) => this.pending.push({ ms, wake }));
  }
  /** Lets the longest pending wait pass, waking every wait. */
  elapse(): void {
    const due = this.pending;
    this.pending = [];
    this.base.advance(Math.max(0, ...due.map((d) => d.ms)));
    for (const d of due) d.wake();
  }
}

interface Host {
  s: FakeServices;
  supervisors: FakeSupervisor[];
  timers: Timers;
  manager: RestartManager;
}

function host(): Host {
  const s = fakeServices();
  const supervisors = installSupervisor(s, { kind: 'supervises' });
  const timers = new Timers(s.clock);
  return { s, supervisors, timers, manager: new RestartManager(s, timers) };
}

/** Creates and starts VM `name` with `policy` (no annotation when undefined). */
async function runningVM(h: Host, name: string, policy?: string): Promise<string> {
  const vm = await createVM(h.s, {
    image: 'busybox',
    name,
    ...(policy !== undefined ? { restartPolicy: parseRestartPolicy(policy) } : {}),
  });
  await startVM(h.s, name);
  return vm.metadata.uid;
}

/** Ends the VM's hypervisor: killed by a signal nobody asked for, or the guest powering off. */
async function end(h: Host, uid: string, how: 'crash' | 'power-off'): Promise<StoredVM> {
  const vm = await h.s.client.vms.get(uid);
  const supervisor = h.supervisors.findLast((x) => x.uid === uid);
  h.s.processes.exit(vm.status.runtime?.pid ?? 0, how === 'crash' ? 'SIGKILL' : undefined);
  await supervisor?.done;
  return h.s.client.vms.get(uid);
}

const spawnsOf = (h: Host, uid: string) => h.supervisors.filter((x) => x.uid === uid).length;

test('a VM with --restart always comes back after each crash, later each time, and is counted', async () => {
  const h = host();
  const uid = await runningVM(h, 'web', 'always');
  for (const [i, wait] of [100, 200, 400].entries()) {
    const ended = await end(h, uid, 'crash');
    assert.equal(ended.status.state, 'Stopped');
    assert.deepEqual(ended.status.lastExit, {
      time: h.s.clock.now().toISOString(),
      reason: 'Crashed',
      signal: 'SIGKILL',
    });
    h.manager.onChange(ended);
    h.manager.onChange(ended);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(h.timers.waits.slice(i), [wait], 'one wait, of the backoff');
    assert.equal(spawnsOf(h, uid), i + 1, 'not started before the wait is over');
    h.timers.elapse();
    await h.manager.settled();
    const back = await h.s.client.vms.get(uid);
    assert.equal(back.status.state, 'Running', `restart ${i + 1}`);
    assert.equal(back.status.restartCount, i + 1);
    assert.equal(spawnsOf(h, uid), i + 2);
  }
});

test('restarts follow the policy and how the VM ended', async (t) => {
  const cases: {
    name: string;
    policy?: string;
    end: (h: Host, uid: string) => Promise<StoredVM>;
    restarted: boolean;
  }[] = [
    { name: 'no policy: a crash', end: (h, u) => end(h, u, 'crash'), restarted: false },
    { name: 'no: a crash', policy: 'no', end: (h, u) => end(h, u, 'crash'), restarted: false },
    {
      name: 'on-failure: a crash',
      policy: 'on-failure',
      end: (h, u) => end(h, u, 'crash'),
      restarted: true,
    },
    {
      name: 'on-failure: the guest powers off',
      policy: 'on-failure',
      end: (h, u) => end(h, u, 'power-off'),
      restarted: false,
    },
    {
      name: 'always: the guest powers off',
      policy: 'always',
      end: (h, u) => end(h, u, 'power-off'),
      restarted: true,
    },
    {
      name: 'always: ignite stop',
      policy: 'always',
      end: (h, u) => stopVM(h.s, u),
      restarted: false,
    },
    {
      name: 'always: ignite kill',
      policy: 'always',
      end: (h, u) => stopVM(h.s, u, { kill: true }),
      restarted: false,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const h = host();
      const uid = await runningVM(h, 'web', c.policy);
      const ended = await c.end(h, uid);
      assert.equal(ended.status.state, 'Stopped');
      h.manager.onChange(ended);
      h.timers.elapse();
      await h.manager.settled();
      const vm = await h.s.client.vms.get(uid);
      assert.equal(vm.status.state, c.restarted ? 'Running' : 'Stopped');
      assert.equal(vm.status.restartCount, c.restarted ? 1 : undefined);
      assert.equal(spawnsOf(h, uid), c.restarted ? 2 : 1);
    });
  }
});

test('on-failure:1 restarts once, and a start by hand starts the count over', async () => {
  const h = host();
  const uid = await runningVM(h, 'web', 'on-failure:1');
  const restartAfterCrash = async (): Promise<StoredVM> => {
    h.manager.onChange(await end(h, uid, 'crash'));
    h.timers.elapse();
    await h.manager.settled();
    return h.s.client.vms.get(uid);
  };
  assert.equal((await restartAfterCrash()).status.state, 'Running');
  const gaveUp = await restartAfterCrash();
  assert.equal(gaveUp.status.state, 'Stopped');
  assert.equal(gaveUp.status.restartCount, 1);
  const again = await startVM(h.s, 'web');
  assert.equal(again.status.restartCount, undefined, 'a start by hand starts the count over');
  assert.equal((await restartAfterCrash()).status.state, 'Running');
});

test('a stop during the backoff wins: the VM stays stopped', async () => {
  const h = host();
  const uid = await runningVM(h, 'web', 'always');
  h.manager.onChange(await end(h, uid, 'crash'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(h.timers.waits, [100]);
  const stopped = await stopVM(h.s, 'web');
  assert.equal(stopped.status.desiredState, 'Stopped');
  h.manager.onChange(stopped);
  h.timers.elapse();
  await h.manager.settled();
  assert.equal((await h.s.client.vms.get(uid)).status.state, 'Stopped');
  assert.equal(spawnsOf(h, uid), 1);
});

test('a restart that cannot start is counted and tried again, later each time', async () => {
  const h = host();
  const uid = await runningVM(h, 'web', 'always');
  h.s.drivers.qemu.failStart = new Error('no kvm');
  h.manager.onChange(await end(h, uid, 'crash'));
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setImmediate(r));
    h.timers.elapse();
    await new Promise((r) => setImmediate(r));
    while ((await h.s.client.vms.get(uid)).status.restartCount !== i + 1)
      await new Promise((r) => setImmediate(r));
  }
  assert.deepEqual(h.timers.waits.slice(0, 3), [100, 200, 400]);
  delete h.s.drivers.qemu.failStart;
  h.timers.elapse();
  await h.manager.settled();
  const vm = await h.s.client.vms.get(uid);
  assert.equal(vm.status.state, 'Running');
  assert.equal(vm.status.restartCount, 4);
  h.manager.close();
});

test('onStartup starts the VMs that should run and are not running, and no other', async () => {
  const h = host();
  // After a reboot: recorded Running, with its supervisor gone.
  const rebooted = (
    await createVM(h.s, {
      image: 'busybox',
      name: 'rebooted',
      restartPolicy: parseRestartPolicy('no'),
    })
  ).metadata.uid;
  const gone = h.s.processes.add(['node', 'spawn', '--supervise-host']);
  h.s.processes.exit(gone.pid, 'SIGKILL');
  await h.s.runtimeFiles.markSupervised(rebooted, gone.pid);
  await recordRunning(h.s, rebooted, { spawnPid: gone.pid });
  await h.s.client.vms.update(rebooted, (v) => void (v.status.desiredState = 'Running'));
  const live = await runningVM(h, 'live', 'always');
  const stopped = await runningVM(h, 'stopped', 'always');
  await stopVM(h.s, 'stopped');
  await createVM(h.s, { image: 'busybox', name: 'created' });
  const crashed = await runningVM(h, 'crashed', 'no');
  await end(h, crashed, 'crash');

  const before = h.supervisors.length;
  assert.deepEqual(await h.manager.onStartup(), [crashed, rebooted].sort());
  const spawned = h.supervisors.slice(before).map((x) => x.uid);
  assert.deepEqual(spawned.sort(), [crashed, rebooted].sort(), 'the live VM is not started twice');
  for (const uid of [rebooted, live, crashed])
    assert.equal((await h.s.client.vms.get(uid)).status.state, 'Running');
  assert.equal((await h.s.client.vms.get(stopped)).status.state, 'Stopped');
  assert.equal((await h.s.client.vms.find('created')).status.state, 'Created');
  const back = await h.s.client.vms.get(rebooted);
  assert.equal(back.status.restartCount, undefined, 'bringing a VM back is no restart');
  assert.equal(back.status.lastExit?.message, 'supervisor gone');
  assert.deepEqual(await h.manager.onStartup(), [], 'a second call starts nothing');
});
