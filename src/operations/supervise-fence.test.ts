import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import { createVM } from './create-vm.js';
import { startVM } from './start-vm.js';

/** A supervisor on fleet host h1 whose first fence deadline is 4 s after the fake clock's start. */
async function fencedVM(replaceable: boolean): Promise<{ s: FakeServices; uid: string }> {
  const s = fakeServices({
    env: { IGNITE_HOST_NAME: 'h1', IGNITE_FENCE_DEADLINE: '2026-01-01T00:00:04Z' },
  });
  installSupervisor(s, { kind: 'supervises' });
  const vm = await createVM(s, { image: 'busybox', name: 'web' });
  const uid = vm.metadata.uid;
  await s.client.vms.update(uid, (v) => {
    if (replaceable) v.spec.placement = { reschedule: true };
    v.status = {
      ...v.status,
      host: 'h1',
      placement: { generation: 1, time: '2026-01-01T00:00:00Z' },
    };
  });
  return { s, uid };
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within 5 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('supervisor: a replaceable VM whose fence deadline passes is killed and recorded Fenced', async () => {
  const { s, uid } = await fencedVM(true);
  const started = await startVM(s, uid);
  const hv = started.status.runtime?.pid;
  await until('fenced', async () => (await s.client.vms.get(uid)).status.state === 'Stopped');
  const vm = await s.client.vms.get(uid);
  assert.equal(vm.status.lastExit?.reason, 'Fenced');
  assert.equal(s.processes.isAlive(hv), false, 'its hypervisor is gone');
  assert.ok(s.clock.now() >= new Date('2026-01-01T00:00:04Z'), 'not before the deadline');
});

test('supervisor: a VM that is not replaceable is not fenced', async () => {
  const { s, uid } = await fencedVM(false);
  await startVM(s, uid);
  s.clock.advance(60_000);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await s.client.vms.get(uid)).status.state, 'Running');
});

test('supervisor: once the VM is placed on another host, a fenced run writes nothing', async () => {
  const { s, uid } = await fencedVM(true);
  const started = await startVM(s, uid);
  const hv = started.status.runtime?.pid;
  await s.client.vms.update(uid, (v) => {
    v.status = {
      ...v.status,
      host: 'h2',
      state: 'Pending',
      placement: { generation: 2, time: '2026-01-01T00:00:01Z' },
    };
    delete v.status.runtime;
  });
  await until('killed', () => Promise.resolve(!s.processes.isAlive(hv)));
  await new Promise((r) => setTimeout(r, 50));
  const vm = await s.client.vms.get(uid);
  assert.equal(vm.status.state, 'Pending', "h2's record stands");
  assert.equal(vm.status.lastExit, undefined);
});
