import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError, failedPrecondition } from '../errors.js';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import type { FakeSaves } from '../../test/fakes/fake-vmm.js';
import { createVM } from './create-vm.js';
import { removeVM } from './remove-vm.js';
import { BASE_SNAPSHOTS_ANNOTATION, createSnapshot, removeSnapshot } from './snapshots.js';
import { startVM } from './start-vm.js';
import { stopVM } from './stop-vm.js';
import { parseSupervisorRequest } from './supervisor-requests.js';

/** A running VM `web` under an in-process supervisor, on a hypervisor that can save. */
async function running(): Promise<{ s: FakeServices; uid: string; saves: FakeSaves }> {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const saves: FakeSaves = { calls: [], onSave: (file) => s.stateFiles.states.add(file) };
  s.drivers.qemu.saves = saves;
  const vm = await createVM(s, { image: 'busybox', name: 'web' });
  await startVM(s, 'web');
  return { s, uid: vm.metadata.uid, saves };
}

test('stop --save: the supervisor saves, the VM keeps its address, start resumes and spends the state', async () => {
  const { s, uid, saves } = await running();
  const dir = s.layout.vm(uid).dir;
  const ip = (await s.client.vms.get(uid)).status.ipAddresses;
  const stopped = await stopVM(s, 'web', { save: true });
  assert.equal(stopped.status.state, 'Stopped');
  assert.equal(stopped.status.lastExit?.reason, 'Stopped');
  assert.deepEqual(saves.calls, [`save ${dir}/state`]);
  assert.ok(s.stateFiles.states.has(`${dir}/state`));
  const other = await s.network.memory.reserve({
    uid: 'ffffffffffffffff',
    name: 'db',
    mode: 'docker-bridge',
  });
  assert.notEqual(other, ip?.[0], "nobody else gets the saved VM's address");
  const again = await startVM(s, 'web');
  assert.deepEqual(s.drivers.qemu.restoredFrom, [`${dir}/state`]);
  assert.equal(again.status.runtime?.restored, true);
  assert.equal(typeof again.status.runtime?.restoreSeconds, 'number');
  assert.deepEqual(again.status.ipAddresses, ip);
  assert.ok(!s.stateFiles.states.has(`${dir}/state`), 'a resumed state is spent');
});

test('a plain stop discards a saved state; stop --save of a stopped VM without one is refused', async () => {
  const { s, uid } = await running();
  const state = `${s.layout.vm(uid).dir}/state`;
  await stopVM(s, 'web', { save: true });
  assert.ok(s.stateFiles.states.has(state));
  await stopVM(s, 'web');
  assert.ok(!s.stateFiles.states.has(state));
  await assert.rejects(
    stopVM(s, 'web', { save: true }),
    /vm "web": not running, so there is no state to save/,
  );
});

test('a failed save leaves the VM running, resumed', async () => {
  const { s, saves } = await running();
  saves.failSave = failedPrecondition('qmp: migration failed');
  await assert.rejects(stopVM(s, 'web', { save: true }), /qmp: migration failed/);
  assert.deepEqual(saves.calls.slice(-1), ['resume']);
  assert.equal((await s.client.vms.find('web')).status.state, 'Running');
});

test('snapshot create: pause, freeze, save, resume; the VM sits on it, so rm waits for the VM to go', async () => {
  const { s, uid, saves } = await running();
  const vmDir = s.layout.vm(uid).dir;
  s.stateFiles.usage = 75 << 20;
  const snap = await createSnapshot(s, 'web');
  const files = s.layout.snapshot(snap.metadata.uid);
  assert.equal(snap.metadata.name, 'web-1');
  assert.deepEqual(saves.calls, [
    'pause',
    `freeze ${files.disk} ${vmDir}/rootfs.next-1.qcow2`,
    `save ${files.state}`,
    'resume',
  ]);
  assert.deepEqual(snap.spec.source, { name: 'web', uid });
  assert.equal(snap.spec.memory.toHuman(), '512.0 MB');
  assert.deepEqual(snap.status.files, {
    state: files.state,
    sidecar: files.sidecar,
    disk: files.disk,
  });
  assert.equal(snap.status.size?.bytes, 75 << 20);
  assert.equal(snap.status.saveSeconds, 0.25);
  const vm = await s.client.vms.get(uid);
  assert.equal(vm.status.state, 'Running');
  assert.equal(vm.metadata.annotations?.[BASE_SNAPSHOTS_ANNOTATION], snap.metadata.uid);

  const second = await createSnapshot(s, 'web', { name: 'later' });
  assert.equal(second.metadata.annotations?.[BASE_SNAPSHOTS_ANNOTATION], snap.metadata.uid);
  await assert.rejects(
    removeSnapshot(s, 'web-1'),
    (err: unknown) =>
      AppError.is(err, 'FailedPrecondition') &&
      err.message === 'snapshot "web-1": in use by vm "web", snapshot "later"',
  );

  // When the hypervisor exits, its last overlay becomes the root disk.
  await stopVM(s, 'web');
  assert.deepEqual(s.stateFiles.adopted.at(-1), {
    rootDisk: `${vmDir}/rootfs.qcow2`,
    current: `${vmDir}/rootfs.next-2.qcow2`,
    superseded: [`${vmDir}/rootfs.qcow2`, `${vmDir}/rootfs.next-1.qcow2`],
  });
  await removeVM(s, 'web');
  await assert.rejects(removeSnapshot(s, 'web-1'), /in use by snapshot "later"/);
  assert.equal(await removeSnapshot(s, 'later'), second.metadata.uid);
  assert.equal(await removeSnapshot(s, 'web-1'), snap.metadata.uid);
  assert.deepEqual(await s.client.snapshots.list(), []);
  assert.deepEqual(s.stateFiles.removedDirs, [
    s.layout.snapshot(second.metadata.uid).dir,
    files.dir,
  ]);
});

test('snapshot create --stop: the state is kept for the next start, which resumes it', async () => {
  const { s, uid } = await running();
  const snap = await createSnapshot(s, 'web', { stop: true });
  const vm = await s.client.vms.get(uid);
  assert.equal(vm.status.state, 'Stopped');
  assert.equal(vm.status.desiredState, 'Stopped');
  const vmState = `${s.layout.vm(uid).dir}/state`;
  assert.ok(s.stateFiles.states.has(vmState), 'linked into the VM');
  assert.ok(s.stateFiles.states.has(s.layout.snapshot(snap.metadata.uid).state));
  await startVM(s, 'web');
  assert.deepEqual(s.drivers.qemu.restoredFrom, [vmState]);
});

test('snapshot create: a failed save before the freeze leaves no snapshot; a stopped VM is refused', async () => {
  const { s, saves } = await running();
  saves.failSave = failedPrecondition('qmp: migration failed');
  await assert.rejects(createSnapshot(s, 'web'), /qmp: migration failed/);
  assert.deepEqual(await s.client.snapshots.list(), []);
  assert.equal(saves.calls.at(-1), 'resume');
  await stopVM(s, 'web');
  await assert.rejects(
    createSnapshot(s, 'web'),
    (err: unknown) => AppError.is(err, 'FailedPrecondition') && err.hint === 'ignite start web',
  );
  await assert.rejects(createSnapshot(s, 'web', { name: 'Bad/Name' }), /not running/);
});

test('parseSupervisorRequest: what the socket accepts', () => {
  const uid = '0123456789abcdef';
  assert.deepEqual(parseSupervisorRequest({ op: 'save' }), { op: 'save' });
  assert.deepEqual(parseSupervisorRequest({ op: 'snapshot', snapshot: uid, stop: true }), {
    op: 'snapshot',
    snapshot: uid,
    stop: true,
  });
  assert.deepEqual(parseSupervisorRequest({ op: 'snapshot', snapshot: uid }), {
    op: 'snapshot',
    snapshot: uid,
    stop: false,
  });
  for (const bad of [null, 'save', {}, { op: 'snapshot', snapshot: '../x' }, { op: 'rm' }])
    assert.throws(() => parseSupervisorRequest(bad), /not understood/);
});

test("a clone: its disk over the snapshot's, its first start resumes the snapshot; rm waits for it", async () => {
  const { s } = await running();
  const snap = await createSnapshot(s, 'web');
  const files = s.layout.snapshot(snap.metadata.uid);
  assert.equal(snap.spec.guestAddress, '10.61.0.2/24');
  await assert.rejects(
    createVM(s, { fromSnapshot: 'web-1', name: 'c1', networkMode: 'none' }),
    /snapshot "web-1": its VM had a network, so a clone needs one too/,
  );
  await assert.rejects(
    createVM(s, { fromSnapshot: 'web-1', name: 'c1', image: 'alpine' }),
    /its image is docker.io\/library\/busybox:latest, not alpine/,
  );
  const clone = await createVM(s, { fromSnapshot: 'web-1', name: 'c1' });
  assert.equal(clone.metadata.annotations?.['ignite.weave.works/guest-address'], '10.61.0.2/24');
  const cloneDir = s.layout.vm(clone.metadata.uid).dir;
  assert.equal(s.rootDisks.requests.at(-1)?.over, files.disk);
  assert.equal(clone.spec.memory.bytes, snap.spec.memory.bytes);
  assert.equal(clone.metadata.annotations?.[BASE_SNAPSHOTS_ANNOTATION], snap.metadata.uid);
  assert.ok(s.stateFiles.states.has(`${cloneDir}/state`));
  const started = await startVM(s, 'c1');
  assert.deepEqual(s.drivers.qemu.restoredFrom, [`${cloneDir}/state`]);
  // Its own address outside, NATed to the one its guest kept.
  assert.notDeepEqual(started.status.ipAddresses, ['10.61.0.2']);
  assert.deepEqual(s.network.attachRequests.at(-1)?.guestAddress, {
    address: '10.61.0.2',
    prefixLength: 24,
  });
  await removeVM(s, 'web', { force: true });
  await assert.rejects(removeSnapshot(s, 'web-1'), /in use by vm "c1"/);
  await removeVM(s, 'c1', { force: true });
  assert.equal(await removeSnapshot(s, 'web-1'), snap.metadata.uid);
});

test('a supervisor that died after a snapshot: the next start takes the last overlay as the root disk', async () => {
  const { s, uid } = await running();
  await createSnapshot(s, 'web');
  await createSnapshot(s, 'web');
  await stopVM(s, 'web');
  const paths = s.layout.vm(uid);
  // As if the supervisor had been killed before it could adopt them.
  s.runtimeFiles.files.set(paths.nextRootDisk(1), 1);
  s.runtimeFiles.files.set(paths.nextRootDisk(2), 1);
  const adopted = s.stateFiles.adopted.length;
  await startVM(s, 'web');
  assert.deepEqual(s.stateFiles.adopted[adopted], {
    rootDisk: paths.rootDiskQcow2,
    current: paths.nextRootDisk(2),
    superseded: [paths.rootDiskQcow2, paths.nextRootDisk(1)],
  });
});

test('a supervisor that serves no requests is said so, with the way out', async () => {
  const { s, uid } = await running();
  s.requests.served.delete(s.layout.vm(uid).supervisorSocket);
  await assert.rejects(
    stopVM(s, 'web', { save: true }),
    (err: unknown) =>
      AppError.is(err, 'FailedPrecondition') &&
      err.message === 'vm "web": its supervisor takes no requests' &&
      err.hint === 'restart the VM (ignite stop web; ignite start web)',
  );
  await assert.rejects(createSnapshot(s, 'web'), /its supervisor takes no requests/);
  assert.deepEqual(await s.client.snapshots.list(), []);
});
