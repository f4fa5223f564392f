import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NAME_PATTERN, Size, type StoredVM } from '../api/index.js';
import { internal, unavailable, type ErrorCode } from '../errors.js';
import { rejectsWith } from '../../test/fakes/expect.js';
import {
  DATA_DIR,
  fakeServices,
  messages,
  type FakeServices,
} from '../../test/fakes/fake-services.js';
import { createVM, VMM_ANNOTATION, type CreateVMOptions } from './create-vm.js';

const GB = 1024 ** 3;

async function vmNames(s: FakeServices): Promise<string[]> {
  return (await s.client.vms.list()).map((v) => v.metadata.name).sort();
}

test('createVM applies the defaults, imports image and kernel, reserves an address and builds the disk', async () => {
  const s = fakeServices();
  const vm = await createVM(s, { image: 'busybox', name: 'web' });
  const uid = vm.metadata.uid;
  const stored = await s.client.vms.get(uid);
  assert.equal(stored.metadata.name, 'web');
  assert.equal(stored.spec.cpus, 1);
  assert.equal(stored.spec.memory?.toString(), '512MB');
  assert.equal(stored.spec.diskSize?.toString(), '4GB');
  assert.equal(stored.spec.kernel?.ociClaim.ref, 'docker.io/weaveworks/ignite-kernel:4.19.47');
  assert.equal(stored.spec.network?.mode, 'docker-bridge');
  assert.equal(stored.metadata.annotations?.[VMM_ANNOTATION], 'qemu');
  assert.equal(stored.status.state, 'Created');
  assert.equal(stored.status.image?.id, `sha256:${'1'.repeat(64)}`, 'image source recorded');
  assert.deepEqual(s.imports.asked, [
    { kind: 'kernel', ref: 'docker.io/weaveworks/ignite-kernel:4.19.47' },
    { kind: 'image', ref: 'busybox' },
  ]);
  assert.deepEqual(s.network.held(uid), ['reserved 10.61.0.2']);
  const image = await s.client.images.findByName('docker.io/library/busybox:latest');
  assert.deepEqual(s.rootDisks.requests, [
    {
      imagePath: s.layout.imageExt4(image?.metadata.uid ?? 'none'),
      vmDir: `${DATA_DIR}/vm/${uid}`,
      format: 'qcow2',
      sizeBytes: 4 * GB,
      hostname: 'web',
      authorizedKeys: [],
      copyFiles: [],
      // The image's own directory keeps its grown bases.
      grownBaseDir: `${DATA_DIR}/image/${image?.metadata.uid ?? 'none'}`,
      label: 'vm "web"',
    },
  ]);
  assert.deepEqual(s.sshKeys.generated, [], 'no key pair unless asked');
  assert.equal(stored.status.desiredState, undefined, 'created, not asked to run');
});

test('createVM: a VM made to run next is stored as one that should run', async () => {
  const s = fakeServices();
  const vm = await createVM(s, { image: 'busybox', name: 'web', toRun: true });
  const stored = await s.client.vms.get(vm.metadata.uid);
  assert.equal(stored.status.state, 'Created');
  assert.equal(stored.status.desiredState, 'Running');
});

test('createVM: what the host and the flags choose', async (t) => {
  const cases: {
    name: string;
    services?: Parameters<typeof fakeServices>[0];
    options: CreateVMOptions;
    check: (s: FakeServices, vm: StoredVM) => void;
  }[] = [
    {
      name: 'Firecracker where installed, with a raw disk',
      services: { firecracker: true },
      options: { image: 'busybox', name: 'fc' },
      check: (s, vm) => {
        assert.equal(vm.metadata.annotations?.[VMM_ANNOTATION], 'firecracker');
        assert.equal(s.rootDisks.requests[0]?.format, 'raw');
      },
    },
    {
      name: '--vmm qemu wins over an installed Firecracker',
      services: { firecracker: true },
      options: { image: 'busybox', name: 'q', vmm: 'qemu' },
      check: (s, vm) => {
        assert.equal(vm.metadata.annotations?.[VMM_ANNOTATION], 'qemu');
        assert.equal(s.rootDisks.requests[0]?.format, 'qcow2');
      },
    },
    {
      name: 'IGNITE_KERNEL_IMAGE is the default kernel',
      services: { env: { IGNITE_KERNEL_IMAGE: '127.0.0.1:5000/kernel:6.1' } },
      options: { image: 'busybox', name: 'k' },
      check: (s, vm) => {
        assert.equal(vm.spec.kernel?.ociClaim.ref, '127.0.0.1:5000/kernel:6.1');
        assert.deepEqual(s.imports.asked[0], { kind: 'kernel', ref: '127.0.0.1:5000/kernel:6.1' });
      },
    },
    {
      name: 'a random valid name when none is given, which is also the hostname',
      options: { image: 'busybox' },
      check: (s, vm) => {
        assert.match(vm.metadata.name, NAME_PATTERN);
        assert.equal(s.rootDisks.requests[0]?.hostname, vm.metadata.name);
      },
    },
    {
      name: "a disk smaller than the image is raised to the image's size",
      options: { image: 'busybox', name: 'small', diskSize: Size.parse('1MB') },
      check: (s) => {
        assert.equal(s.rootDisks.requests[0]?.sizeBytes, Size.parse('100MB').bytes);
        assert.ok(messages(s, 40).includes(`vm "small": disk size raised to the image's size`));
      },
    },
    {
      name: 'ssh: true generates a key pair in the VM directory and authorizes it',
      options: { image: 'busybox', name: 'keyed', ssh: true },
      check: (s, vm) => {
        const uid = vm.metadata.uid;
        assert.deepEqual(s.sshKeys.generated, [{ dir: `${DATA_DIR}/vm/${uid}`, uid }]);
        assert.deepEqual(s.rootDisks.requests[0]?.authorizedKeys, [
          `ssh-ed25519 AAAAfake${uid} ignite-${uid}`,
        ]);
      },
    },
    {
      name: 'ssh: a path authorizes its .pub',
      options: { image: 'busybox', name: 'mine', ssh: '/home/u/.ssh/id_ed25519' },
      check: (s) => {
        assert.deepEqual(s.rootDisks.requests[0]?.authorizedKeys, ['ssh-ed25519 AAAAmine u@h']);
        assert.deepEqual(s.sshKeys.generated, []);
      },
    },
    {
      name: 'ssh: a public key itself (as a client of the daemon sends it) is authorized as given',
      options: { image: 'busybox', name: 'sent', ssh: 'ssh-ed25519 AAAAsent c@client' },
      check: (s) => {
        assert.deepEqual(s.rootDisks.requests[0]?.authorizedKeys, [
          'ssh-ed25519 AAAAsent c@client',
        ]);
        assert.deepEqual(s.sshKeys.generated, []);
      },
    },
    {
      name: 'copied files go to the disk request',
      options: {
        image: 'busybox',
        name: 'files',
        copyFiles: [{ hostPath: '/etc/motd', vmPath: '/etc/motd' }],
      },
      check: (s) =>
        assert.deepEqual(s.rootDisks.requests[0]?.copyFiles, [
          { hostPath: '/etc/motd', vmPath: '/etc/motd' },
        ]),
    },
    {
      name: 'a VM without a network needs no root and reserves no address',
      services: { host: { isRoot: false } },
      options: { image: 'busybox', name: 'offline', networkMode: 'none' },
      check: (s, vm) => {
        assert.equal(vm.spec.network?.mode, 'none');
        assert.deepEqual(s.network.holders(), []);
      },
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices(c.services);
      s.hostFiles.files.set('/home/u/.ssh/id_ed25519.pub', 'ssh-ed25519 AAAAmine u@h\n');
      s.hostFiles.files.set('/etc/motd', 'hello');
      const vm = await createVM(s, c.options);
      c.check(s, await s.client.vms.get(vm.metadata.uid));
    });
  }
});

test('createVM: a failing step leaves nothing stored, reserved or half-built', async (t) => {
  const cases: {
    name: string;
    setup?: (s: FakeServices) => void | Promise<void>;
    options?: Partial<CreateVMOptions>;
    code: ErrorCode;
    message: RegExp;
    diskAlongside?: boolean;
  }[] = [
    {
      name: 'the name is taken',
      setup: async (s) => void (await createVM(s, { image: 'busybox', name: 'web' })),
      code: 'AlreadyExists',
      message: /vm "web": already exists/,
    },
    {
      name: 'a host process serves the host port',
      setup: (s) => void s.hostPorts.used.add('8080/tcp'),
      options: { ports: [{ hostPort: 8080, vmPort: 80 }] },
      code: 'AlreadyExists',
      message: /vm "web": host port 8080\/tcp is already used by a host process/,
    },
    {
      name: 'another VM maps the host port',
      setup: async (s) =>
        void (await createVM(s, {
          image: 'busybox',
          name: 'other',
          ports: [{ hostPort: 8080, vmPort: 8080 }],
        })),
      options: { ports: [{ hostPort: 8080, vmPort: 80 }] },
      code: 'AlreadyExists',
      message: /host port 8080\/tcp is already used by vm "other"/,
    },
    {
      name: 'a network VM as a user',
      setup: (s) => void (s.host.isRoot = false),
      code: 'PermissionDenied',
      message: /vm "web": its network \(docker-bridge\) needs root/,
    },
    {
      name: 'a file to copy is not readable',
      setup: (s) => {
        s.hostFiles.files.set('/root/secret', 'x');
        s.hostFiles.unreadable.add('/root/secret');
      },
      options: { copyFiles: [{ hostPath: '/root/secret', vmPath: '/secret' }] },
      code: 'InvalidArgument',
      message: /--copy-files: \/root\/secret: not found on the host or not readable/,
    },
    {
      name: 'the public key is not one',
      setup: (s) => void s.hostFiles.files.set('/k.pub', 'hello'),
      options: { ssh: '/k' },
      code: 'InvalidArgument',
      message: /--ssh \/k.pub: not an SSH public key/,
    },
    {
      name: 'the public key is missing',
      options: { ssh: '/nowhere.pub' },
      code: 'InvalidArgument',
      message: /--ssh \/nowhere.pub: cannot read the public key/,
    },
    {
      name: 'the image import fails',
      setup: (s) => void s.imports.fail.set('busybox', unavailable('registry: down')),
      code: 'Unavailable',
      message: /registry: down/,
    },
    {
      name: 'the kernel import fails',
      setup: (s) =>
        void s.imports.fail.set(
          'docker.io/weaveworks/ignite-kernel:4.19.47',
          unavailable('kernel: down'),
        ),
      code: 'Unavailable',
      message: /kernel: down/,
    },
    {
      name: 'the network has no address left',
      setup: (s) => void (s.network.fail.reserve = unavailable('network: no address left')),
      code: 'Unavailable',
      message: /no address left/,
      // Reserved alongside the disk: a disk built meanwhile goes with the VM's directory.
      diskAlongside: true,
    },
    {
      name: 'the key pair cannot be generated',
      setup: (s) => void (s.sshKeys.fail = internal('ssh-keygen: not found')),
      options: { ssh: true },
      code: 'Internal',
      message: /ssh-keygen: not found/,
    },
    {
      name: 'the root disk cannot be built',
      setup: (s) => void (s.rootDisks.fail = internal('qemu-img: no space left on device')),
      code: 'Internal',
      message: /no space left/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      await c.setup?.(s);
      const before = await vmNames(s);
      const reservedBefore = s.network.holders();
      const disksBefore = s.rootDisks.requests.length;
      await rejectsWith(
        createVM(s, { image: 'busybox', name: 'web', ...c.options }),
        c.code,
        c.message,
      );
      assert.deepEqual(await vmNames(s), before, 'no VM stored');
      assert.deepEqual(s.network.holders(), reservedBefore, 'no address kept');
      const built = s.rootDisks.requests.slice(disksBefore);
      assert.ok(
        built.length === 0 || s.rootDisks.fail !== undefined || c.diskAlongside === true,
        'no disk built for a VM that was not created',
      );
      // What was reserved for a stored VM was given back, under that VM's uid.
      for (const r of s.network.calls.filter(
        (x) => x.op === 'reserve' && !reservedBefore.includes(x.uid ?? ''),
      ))
        assert.ok(s.network.opsFor(r.uid ?? '').includes('release'), 'reservation released');
    });
  }
});
