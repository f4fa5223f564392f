import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from '../../test/fakes/expect.js';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import { createVM, type CreateVMOptions } from './create-vm.js';
import { runVM } from './run-vm.js';

const KERNEL = '127.0.0.1:5000/ignite-kernel:6.1-micro';
const NO_PVH = 'its vmlinux has no PVH entry point';

/** The kernel, imported ahead so its files can be steered; its vmlinux path. */
async function kernelFiles(s: FakeServices, ref = KERNEL) {
  const kernel = await s.imports.kernel(ref);
  return s.layout.kernelFiles(kernel.metadata.uid);
}

test('createVM: which modules go into the root disk', async (t) => {
  const cases: {
    name: string;
    setup: (s: FakeServices) => Promise<void> | void;
    options?: Partial<CreateVMOptions>;
    modules: 'copied' | 'none';
  }[] = [
    {
      name: "the kernel image carries its release's modules: copied",
      setup: (s) => void s.imports.withModules.add(KERNEL),
      modules: 'copied',
    },
    {
      name: 'copied into the raw disk of a Firecracker VM too',
      setup: (s) => void s.imports.withModules.add(KERNEL),
      options: { vmm: 'firecracker' },
      modules: 'copied',
    },
    {
      name: 'the kernel image has no modules: none',
      setup: () => undefined,
      modules: 'none',
    },
    {
      name: 'the image has /lib/modules/<release> already: the image keeps its own',
      setup: async (s) => {
        s.imports.withModules.add(KERNEL);
        const image = await s.imports.image('busybox');
        s.rootDisks.imagePaths.add(
          `${s.layout.imageExt4(image.metadata.uid)}:/lib/modules/6.1.0-fake`,
        );
      },
      modules: 'none',
    },
    {
      name: 'the image has modules of another release only: copied',
      setup: async (s) => {
        s.imports.withModules.add(KERNEL);
        const image = await s.imports.image('busybox');
        s.rootDisks.imagePaths.add(
          `${s.layout.imageExt4(image.metadata.uid)}:/lib/modules/4.19.47`,
        );
      },
      modules: 'copied',
    },
    {
      name: 'the kernel has no known release: none',
      setup: (s) => {
        s.imports.withModules.add(KERNEL);
        s.imports.kernelVersion = undefined;
      },
      modules: 'none',
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices({ firecracker: true });
      await c.setup(s);
      await createVM(s, {
        image: 'busybox',
        name: 'm',
        kernelImage: KERNEL,
        vmm: 'qemu',
        ...c.options,
      });
      const kernel = await s.client.kernels.findByName(KERNEL);
      const req = s.rootDisks.requests[0];
      assert.ok(kernel && req);
      if (c.modules === 'none') assert.equal(req.modules, undefined);
      else
        assert.deepEqual(req.modules, {
          tarPath: s.layout.kernelFiles(kernel.metadata.uid).modules,
          release: '6.1.0-fake',
        });
    });
  }
});

test('createVM: a kernel without a PVH entry point is refused on QEMU, at once', async () => {
  const s = fakeServices();
  s.drivers.qemu.unbootable.set((await kernelFiles(s)).vmlinux, NO_PVH);
  await rejectsWith(
    createVM(s, { image: 'busybox', name: 'old', kernelImage: KERNEL }),
    'FailedPrecondition',
    new RegExp(`^kernel "${KERNEL}": qemu cannot boot it: ${NO_PVH}`),
  ).then((err) => assert.match(err.hint ?? '', /ignite-kernel:6\.1-micro.*--vmm firecracker/));
  assert.deepEqual(await s.client.vms.list(), [], 'no VM stored');
  assert.deepEqual(s.rootDisks.requests, [], 'no disk built');
  assert.deepEqual(
    s.imports.asked.filter((a) => a.kind === 'image'),
    [],
    'refused before the image is pulled',
  );
  assert.deepEqual(s.network.holders(), []);
});

test('createVM: the same kernel is accepted for Firecracker, with a raw disk', async () => {
  const s = fakeServices({ firecracker: true });
  s.drivers.qemu.unbootable.set((await kernelFiles(s)).vmlinux, NO_PVH);
  const vm = await createVM(s, { image: 'busybox', name: 'fc', kernelImage: KERNEL });
  assert.equal(vm.status.state, 'Created');
  assert.equal(s.rootDisks.requests[0]?.format, 'raw');
  await rejectsWith(
    createVM(s, { image: 'busybox', name: 'q', kernelImage: KERNEL, vmm: 'qemu' }),
    'FailedPrecondition',
    /qemu cannot boot it/,
  );
});

test('runVM: a kernel QEMU cannot boot hands nothing over and leaves no VM', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  s.drivers.qemu.unbootable.set((await kernelFiles(s)).vmlinux, NO_PVH);
  await rejectsWith(
    runVM(
      s,
      { image: 'busybox', name: 'old', kernelImage: KERNEL },
      { startTimeoutMs: 60_000, sshTimeoutMs: 30_000 },
    ),
    'FailedPrecondition',
    /qemu cannot boot it/,
  );
  assert.equal(
    s.requests.sent.some((r) => (r.request as { op: string }).op === 'supervise'),
    false,
  );
  assert.deepEqual([...s.runtimeFiles.vmDirs], [], 'no directory left');
  assert.deepEqual(await s.client.vms.list(), []);
  assert.deepEqual(s.drivers.qemu.started, [], 'nothing booted');
});
