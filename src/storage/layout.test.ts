import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAbsolute } from 'node:path';
import { DataLayout } from './layout.js';

const UID = '0123456789abcdef';

test('DataLayout names every file under the data dir, absolute', () => {
  const l = new DataLayout('/var/lib/firecracker');
  const vm = l.vm(UID);
  assert.equal(vm.dir, `/var/lib/firecracker/vm/${UID}`);
  assert.equal(vm.rootDiskQcow2, `${vm.dir}/rootfs.qcow2`);
  assert.equal(vm.rootDiskRaw, `${vm.dir}/rootfs.ext4`);
  assert.equal(vm.sshKey, `${vm.dir}/id_${UID}`);
  assert.equal(vm.runRecord, `${vm.dir}/run.json`);
  assert.equal(vm.metricsSocket, `${vm.dir}/prometheus.sock`);
  assert.equal(l.imageExt4(UID), `/var/lib/firecracker/image/${UID}/image.ext4`);
  assert.deepEqual(l.kernelFiles(UID), {
    vmlinux: `/var/lib/firecracker/kernel/${UID}/vmlinux`,
    initrd: `/var/lib/firecracker/kernel/${UID}/initrd`,
    modules: `/var/lib/firecracker/kernel/${UID}/modules.tar`,
  });
  assert.deepEqual(l.snapshot(UID), {
    dir: `/var/lib/firecracker/snapshot/${UID}`,
    state: `/var/lib/firecracker/snapshot/${UID}/state`,
    sidecar: `/var/lib/firecracker/snapshot/${UID}/state.json`,
    disk: `/var/lib/firecracker/snapshot/${UID}/disk.qcow2`,
  });
  assert.equal(vm.savedState, `${vm.dir}/state`);
  assert.equal(vm.supervisorSocket, `${vm.dir}/supervisor.sock`);
  assert.equal(l.stagingDir, '/var/lib/firecracker/.staging');
  assert.equal(l.accelCache, '/var/lib/firecracker/.cache/accel.json');
  assert.equal(l.gitopsDir, '/var/lib/firecracker/gitops');
});

test('DataLayout: a relative data dir still gives absolute paths; a bad UID is refused', () => {
  const l = new DataLayout('data');
  assert.ok(isAbsolute(l.objectDir('VM', UID)));
  for (const bad of ['', '../../etc', 'ABC', `${UID}/x`])
    assert.throws(() => l.objectDir('Image', bad), /not a valid uid/, bad);
});

test('DataLayout with a run dir: sockets and run record in <runDir>/<uid>, the rest in the VM dir', () => {
  const l = new DataLayout('/home/ann/.local/share/ignite', '/run/user/1000/ignite');
  const vm = l.vm(UID);
  const run = `/run/user/1000/ignite/${UID}`;
  assert.equal(vm.dir, `/home/ann/.local/share/ignite/vm/${UID}`);
  assert.equal(vm.runDir, run);
  assert.equal(l.vmRunDir(UID), run);
  for (const [file, path] of [
    ['console.sock', vm.consoleSocket],
    ['control.sock', vm.controlSocket],
    ['prometheus.sock', vm.metricsSocket],
    ['supervisor.sock', vm.supervisorSocket],
    ['run.json', vm.runRecord],
  ] as const)
    assert.equal(path, `${run}/${file}`);
  assert.equal(l.runRecord(UID), vm.runRecord);
  for (const path of [vm.rootDiskQcow2, vm.sshKey, vm.consoleLog, vm.spawnLog, vm.savedState])
    assert.ok(path.startsWith(`${vm.dir}/`), path);
  // sun_path holds 108 bytes: the longest socket name in a usual session dir fits well.
  assert.ok(Buffer.byteLength(vm.supervisorSocket) < 80);
  assert.throws(() => l.vmRunDir('../x'), /not a valid uid/);
  assert.equal(new DataLayout('/d').vm(UID).runDir, `/d/vm/${UID}`, 'no run dir: the VM dir');
});
