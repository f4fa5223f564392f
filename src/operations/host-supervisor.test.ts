import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from '../../test/fakes/expect.js';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import type { Clock } from '../system/clock.js';
import { systemClock } from '../system/system-clock.js';
import { toDecodedForm } from '../storage/decoded-form.js';
import { createVM } from './create-vm.js';
import { HostSupervisor } from './host-supervisor.js';

function supervisorOf(s: Omit<FakeServices, 'clock'> & { clock: Clock }, idleMs: number) {
  const logs: string[] = [];
  const sup = new HostSupervisor(
    s,
    (uid, o) => ({
      services: { ...s, signals: o.signals, config: { ...s.config, env: o.env } },
      close: () => {
        logs.push(`closed ${uid}`);
        return Promise.resolve();
      },
    }),
    idleMs,
  );
  return { sup, logs };
}

/** Waits for `p`; the supervisor's idle timer is unref'd (its server keeps a real process). */
async function held<T>(p: Promise<T>): Promise<T> {
  const keep = setInterval(() => undefined, 10);
  try {
    return await p;
  } finally {
    clearInterval(keep);
  }
}

const supervise = (uid: string) => ({ op: 'supervise', uid, env: {} });

test('the host supervisor reports idle only once no VM is left, and then takes no VM', async () => {
  const s = fakeServices();
  const a = await createVM(s, { image: 'busybox', name: 'a' });
  const { sup, logs } = supervisorOf(s, 30);
  assert.equal(sup.asked, false);
  assert.deepEqual(await sup.handle({ op: 'ping' }), { pid: s.host.pid });
  assert.equal(sup.asked, true, 'a ping is asking');
  await sup.handle(supervise(a.metadata.uid));
  assert.deepEqual(sup.supervising, [a.metadata.uid]);
  let idle = false;
  void sup.idle.then(() => (idle = true));
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(idle, false, 'not idle while it supervises a VM');
  await sup.handle({ op: 'signal', uid: a.metadata.uid, signal: 'SIGTERM' });
  await held(sup.idle);
  assert.deepEqual(logs, [`closed ${a.metadata.uid}`]);
  assert.equal((await s.client.vms.get(a.metadata.uid)).status.state, 'Stopped');
  await rejectsWith(sup.handle(supervise(a.metadata.uid)), 'Unavailable', /shutting down/);
  // Its starters are told, so that they wait for it to go and start another.
  assert.deepEqual(await sup.handle({ op: 'ping' }), { pid: s.host.pid, ending: true });
});

test('one VM failing leaves the others supervised; requests for unknown VMs are refused', async () => {
  const s = fakeServices();
  const a = await createVM(s, { image: 'busybox', name: 'a' });
  const b = await createVM(s, { image: 'busybox', name: 'b' });
  const { sup } = supervisorOf(s, 60_000);
  s.drivers.qemu.failStart = new Error('qemu: no such machine');
  await rejectsWith(sup.handle(supervise(a.metadata.uid)), 'Internal', /no such machine/);
  delete s.drivers.qemu.failStart;
  await sup.handle(supervise(b.metadata.uid));
  assert.deepEqual(sup.supervising, [b.metadata.uid]);
  assert.equal(s.runtimeFiles.supervisedBy(a.metadata.uid), undefined);
  assert.equal(s.runtimeFiles.supervisedBy(b.metadata.uid), s.host.pid);
  await rejectsWith(
    sup.handle({ op: 'signal', uid: a.metadata.uid, signal: 'SIGQUIT' }),
    'NotFound',
    /not supervised/,
  );
  await rejectsWith(
    sup.handle(supervise(b.metadata.uid)),
    'FailedPrecondition',
    /already supervised/,
  );
  await rejectsWith(sup.handle({ op: 'reboot' }), 'InvalidArgument', /not understood/);
  sup.signalAll('SIGQUIT');
  await held(sup.idle);
  assert.equal((await s.client.vms.get(b.metadata.uid)).status.state, 'Stopped');
});

test('a VM handed over again as its last run cleans up waits for that, then runs', async () => {
  const s = fakeServices();
  const a = await createVM(s, { image: 'busybox', name: 'a' });
  // The host's own waits on real time: the fake clock would end them at once.
  const { sup } = supervisorOf({ ...s, clock: systemClock }, 60_000);
  await sup.handle(supervise(a.metadata.uid));
  // The hypervisor exits by itself; the run records its end, and the restart (by a policy that
  // saw that) comes while the run still cleans up after it (which takes 50 ms here).
  const unmark = s.runtimeFiles.unmarkSupervised.bind(s.runtimeFiles);
  s.runtimeFiles.unmarkSupervised = async (uid, pid) => {
    await new Promise((r) => setTimeout(r, 50));
    return unmark(uid, pid);
  };
  s.processes.exit(s.drivers.qemu.running[0]?.pid ?? 0);
  while ((await s.client.vms.get(a.metadata.uid)).status.state === 'Running')
    await new Promise((r) => setTimeout(r, 1));
  assert.deepEqual(sup.supervising, [a.metadata.uid], 'still cleaning up');
  await sup.handle(supervise(a.metadata.uid));
  const vm = await s.client.vms.get(a.metadata.uid);
  assert.equal(vm.status.state, 'Running');
  assert.equal(s.drivers.qemu.started.length, 2);
  sup.signalAll('SIGQUIT');
  await held(sup.idle);
});

test('a VM handed over as its starter read it is run as sent while its file is unchanged, else as stored', async () => {
  const s = fakeServices();
  const { sup } = supervisorOf(s, 60_000);
  const handOver = async (name: string, checksumOf: (stored: string) => string) => {
    const made = await createVM(s, { image: 'busybox', name });
    const uid = made.metadata.uid;
    // As its starter, another process, read it (this one's cache has no copy of it).
    const checksum = (await s.client.storage.checksum('VM', uid)) ?? '';
    // What only the sent copy says: it is the one the supervisor runs.
    const form = toDecodedForm({ ...made, spec: { ...made.spec, cpus: 3 } });
    await sup.handle({ ...supervise(uid), known: { checksum: checksumOf(checksum), form } });
    return s.drivers.qemu.started.find((c) => c.name === name)?.vcpus;
  };
  assert.equal(await handOver('as-sent', (c) => c), 3);
  assert.equal(await handOver('as-stored', (c) => `${c}-since`), 1, 'the file changed since');
  sup.signalAll('SIGQUIT');
  await held(sup.idle);
});
