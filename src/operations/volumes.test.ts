import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Size } from '../api/index.js';
import { internal } from '../errors.js';
import { rejectsWith } from '../../test/fakes/expect.js';
import {
  DATA_DIR,
  fakeServices,
  untilState,
  type FakeServices,
} from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import { createVM } from './create-vm.js';
import { removeVM } from './remove-vm.js';
import { startVM } from './start-vm.js';
import { superviseVM } from './supervise-vm.js';
import { createVolume, removeVolume } from './volumes.js';

const dataVolume = (s: FakeServices, name = 'data') =>
  createVolume(s, { name, size: Size.parse('1GB') });

test('createVolume stores the Volume and makes its file, ext4 unless raw', async () => {
  const s = fakeServices();
  const vol = await dataVolume(s);
  const path = `${DATA_DIR}/volume/${vol.metadata.uid}/volume.img`;
  assert.equal(vol.spec.format, 'ext4');
  assert.equal(vol.status.path, path);
  assert.ok(vol.status.created);
  assert.deepEqual(s.volumeFiles.files.get(path), { sizeBytes: 1024 ** 3, format: 'ext4' });
  const raw = await createVolume(s, { name: 'scratch', size: Size.parse('16MB'), format: 'raw' });
  assert.equal(raw.spec.format, 'raw');
  await rejectsWith(dataVolume(s), 'AlreadyExists', /data/);
  await rejectsWith(
    createVolume(s, { name: 'Bad Name', size: Size.parse('1GB') }),
    'InvalidArgument',
    /^volume "Bad Name": a name is/,
  );
});

test('createVolume leaves nothing behind when the file cannot be made', async () => {
  const s = fakeServices();
  s.volumeFiles.failNext = internal('mkfs.ext4: failed (exit 1)');
  await rejectsWith(dataVolume(s), 'Internal', /mkfs\.ext4/);
  assert.deepEqual(await s.client.volumes.list(), []);
  assert.equal(s.volumeFiles.removed.length, 1);
});

test('removeVolume refuses a volume any VM names, running or not, unless forced', async () => {
  const s = fakeServices();
  const vol = await dataVolume(s);
  await createVM(s, {
    image: 'busybox',
    name: 'a',
    networkMode: 'none',
    storage: volumeAt('/data'),
  });
  await createVM(s, { image: 'busybox', name: 'b', networkMode: 'none', storage: volumeAt('/d') });
  await rejectsWith(
    removeVolume(s, 'data'),
    'FailedPrecondition',
    /^volume "data": used by vm "a", vm "b"$/,
  );
  assert.equal(await removeVolume(s, 'data', { force: true }), vol.metadata.uid);
  assert.deepEqual(await s.client.volumes.list(), []);
  assert.deepEqual(s.volumeFiles.removed, [`${DATA_DIR}/volume/${vol.metadata.uid}`]);
});

test('removeVM keeps the named volumes it used', async () => {
  const s = fakeServices();
  await dataVolume(s);
  const vm = await createVM(s, {
    image: 'busybox',
    name: 'a',
    networkMode: 'none',
    storage: volumeAt('/data'),
  });
  await removeVM(s, vm.metadata.uid);
  assert.equal((await s.client.volumes.list()).length, 1);
  assert.equal(s.volumeFiles.files.size, 1);
});

test('createVM checks what volumes name on the host, and leaves nothing when refused', async () => {
  const s = fakeServices({ firecracker: true });
  s.hostFiles.blockDevices.add('/dev/loop7');
  s.hostFiles.files.set('/srv/disk.img', '');
  s.hostFiles.dirs.add('/srv/www');
  const cases: [string, Parameters<typeof createVM>[1]['storage'], string, RegExp][] = [
    [
      'missing volume',
      volumeAt('/data'),
      'NotFound',
      /^vm "x": volume "data": no volume named "data"$/,
    ],
    [
      'not a block device',
      { volumes: [{ name: 'd', blockDevice: { path: '/dev/null0' } }] },
      'InvalidArgument',
      /^vm "x": volume "d": \/dev\/null0 is not a block device on the host$/,
    ],
    [
      'not a file',
      { volumes: [{ name: 'd', file: { path: '/srv/nothing.img' } }] },
      'InvalidArgument',
      /volume "d": \/srv\/nothing\.img is not a regular file/,
    ],
    [
      'not a directory',
      { volumes: [{ name: 'd', directory: { path: '/srv/nope' } }] },
      'InvalidArgument',
      /volume "d": \/srv\/nope is not a directory/,
    ],
  ];
  for (const [what, storage, code, re] of cases) {
    await rejectsWith(
      createVM(s, {
        image: 'busybox',
        name: 'x',
        networkMode: 'none',
        vmm: 'qemu',
        ...(storage ? { storage } : {}),
      }),
      code as 'NotFound',
      re,
    );
    assert.deepEqual(await s.client.vms.list(), [], what);
  }
  await rejectsWith(
    createVM(s, {
      image: 'busybox',
      name: 'x',
      networkMode: 'none',
      vmm: 'firecracker',
      storage: { volumes: [{ name: 'w', directory: { path: '/srv/www' } }] },
    }),
    'InvalidArgument',
    /^vm "x": volume "w": firecracker has no shared-directory device$/,
  );
  const ok = await createVM(s, {
    image: 'busybox',
    name: 'ok',
    networkMode: 'none',
    vmm: 'qemu',
    storage: {
      volumes: [
        { name: 'l', blockDevice: { path: '/dev/loop7' } },
        { name: 'f', file: { path: '/srv/disk.img' } },
        { name: 'w', directory: { path: '/srv/www' } },
      ],
      volumeMounts: [
        { name: 'l', mountPath: '/mnt', readOnly: true },
        { name: 'w', mountPath: '/www' },
      ],
    },
  });
  const req = s.rootDisks.requests.at(-1);
  assert.equal(req?.vmDir, `${DATA_DIR}/vm/${ok.metadata.uid}`);
  assert.deepEqual(req?.fstab, [
    '/dev/vdb /mnt auto ro 0 0',
    'share0 /www 9p trans=virtio,version=9p2000.L 0 0',
  ]);
  assert.deepEqual(req?.mountPoints, ['/mnt', '/www']);
});

test('startVM refuses a volume another running VM holds, unless both mount it read-only', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  await dataVolume(s);
  const mk = (name: string, readOnly: boolean) =>
    createVM(s, {
      image: 'busybox',
      name,
      networkMode: 'none',
      storage: volumeAt('/data', readOnly),
    });
  await mk('writer', false);
  await mk('other', false);
  await mk('ro1', true);
  await mk('ro2', true);
  await startVM(s, 'writer');
  await rejectsWith(
    startVM(s, 'other'),
    'FailedPrecondition',
    /^vm "other": volume "data" is attached to running vm "writer"$/,
  );
  await rejectsWith(startVM(s, 'ro1'), 'FailedPrecondition', /running vm "writer"/);
  await removeVM(s, 'writer', { force: true });
  await startVM(s, 'ro1');
  await startVM(s, 'ro2');
  await rejectsWith(startVM(s, 'other'), 'FailedPrecondition', /running vm "ro[12]"/);
});

function volumeAt(mountPath: string, readOnly = false) {
  return {
    volumes: [{ name: 'data', volume: { name: 'data' } }],
    volumeMounts: [{ name: 'data', mountPath, ...(readOnly ? { readOnly } : {}) }],
  };
}

test('the supervisor attaches volumes in spec order, and refuses one a running VM holds', async () => {
  const s = fakeServices();
  s.hostFiles.blockDevices.add('/dev/loop7');
  const vol = await dataVolume(s);
  const mk = (name: string) =>
    createVM(s, {
      image: 'busybox',
      name,
      networkMode: 'none',
      storage: {
        volumes: [
          { name: 'data', volume: { name: 'data' } },
          { name: 'dev', blockDevice: { path: '/dev/loop7' } },
        ],
        volumeMounts: [
          { name: 'data', mountPath: '/data' },
          { name: 'dev', mountPath: '/mnt', readOnly: true },
        ],
      },
    });
  const a = await mk('a');
  const b = await mk('b');
  // a runs (its supervisor is a live process); b's supervisor gets past startVM's own check,
  // as a start racing with a's would, and is refused under the volume lock.
  const aSupervisor = s.processes.add(['ignite-spawn', '--supervise-host']);
  await s.runtimeFiles.markSupervised(a.metadata.uid, aSupervisor.pid);
  await s.client.vms.update(a.metadata.uid, (v) => {
    v.status = { ...v.status, state: 'Running', runtime: { spawnPid: aSupervisor.pid } };
  });
  await rejectsWith(
    superviseVM(s, b.metadata.uid),
    'FailedPrecondition',
    /^vm "b": volume "data" is attached to running vm "a"$/,
  );
  assert.equal(s.drivers.qemu.started.length, 0, 'b was never started');

  s.processes.exit(aSupervisor.pid);
  void superviseVM(s, b.metadata.uid);
  await untilState(s, b.metadata.uid, 'Running');
  assert.deepEqual(s.drivers.qemu.started[0]?.disks, [
    { path: `${DATA_DIR}/volume/${vol.metadata.uid}/volume.img`, readOnly: false },
    { path: '/dev/loop7', readOnly: true },
  ]);
  await s.drivers.qemu.running[0]?.kill();
});
