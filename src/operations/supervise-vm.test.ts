import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Size } from '../api/index.js';
import { type ErrorCode } from '../errors.js';
import { rejectsWith } from '../../test/fakes/expect.js';
import {
  DATA_DIR,
  fakeServices,
  untilState,
  type FakeServices,
} from '../../test/fakes/fake-services.js';
import type { GuestShutdown } from '../../test/fakes/fake-vmm.js';
import type { HandledSignal } from '../system/program-io.js';
import { createVM, VMM_ANNOTATION } from './create-vm.js';
import { superviseVM } from './supervise-vm.js';

/** A created VM named web, and the kernel it boots. */
async function created(s: FakeServices): Promise<{ uid: string; vmlinux: string }> {
  const vm = await createVM(s, {
    image: 'busybox',
    name: 'web',
    cpus: 2,
    logMaxSize: Size.parse('1MB'),
    ports: [{ hostPort: 8080, vmPort: 80 }],
  });
  const kernel = await s.client.kernels.findByName(vm.spec.kernel.ociClaim.ref);
  return {
    uid: vm.metadata.uid,
    vmlinux: s.layout.kernelFiles(kernel?.metadata.uid ?? '').vmlinux,
  };
}

/** Asserts what every end of a run leaves: Stopped, nothing of the run recorded, all torn down. */
async function assertTornDown(s: FakeServices, uid: string): Promise<void> {
  const vm = await s.client.vms.get(uid);
  assert.equal(vm.status.state, 'Stopped');
  assert.equal(vm.status.runtime, undefined);
  assert.equal(vm.status.ipAddresses, undefined);
  assert.equal(s.runtimeFiles.readRunRecord(uid), undefined, 'run record removed');
  assert.ok(s.runtimeFiles.runFilesRemoved.includes(uid), 'sockets removed');
  assert.equal(s.network.opsFor(uid).at(-1), 'detach', 'network detached last');
  assert.equal(s.network.isAttached(uid), false);
  assert.ok(
    s.vmMetrics.served.every((m) => m.closed),
    'metrics no longer served',
  );
  assert.ok(
    s.drivers.qemu.running.every((r) => !r.process.alive),
    'no hypervisor left',
  );
}

test('superviseVM boots the VM with its network and records it Running', async () => {
  const s = fakeServices();
  const { uid, vmlinux } = await created(s);
  const run = superviseVM(s, uid);
  const vm = await untilState(s, uid, 'Running');
  const hv = s.drivers.qemu.running[0];
  const dir = `${DATA_DIR}/vm/${uid}`;

  assert.deepEqual(s.drivers.qemu.started, [
    {
      uid,
      name: 'web',
      vcpus: 2,
      memoryMiB: 512,
      consoleLogMaxBytes: Size.parse('1MB').bytes,
      kernel: { vmlinuxPath: vmlinux, cmdline: 'console=ttyS0 reboot=k panic=1 pci=off ip=dhcp' },
      rootDisk: { path: `${dir}/rootfs.qcow2`, format: 'qcow2' },
      nics: [{ tapName: 'tap0', mac: s.network.attachmentOf(uid)?.mac }],
      // Started on the links before the network was whole, with them down until it was.
      linksHeld: true,
      netns: `ignite-${uid}`,
      paths: {
        consoleLog: `${dir}/console.log`,
        consoleSocket: `${dir}/console.sock`,
        controlSocket: `${dir}/control.sock`,
        workDir: dir,
      },
    },
  ]);
  assert.deepEqual(vm.status, {
    ...vm.status,
    state: 'Running',
    startTime: s.clock.now().toISOString(),
    ipAddresses: ['10.61.0.2'],
    runtime: { vmm: 'qemu', spawnPid: s.host.pid, pid: hv?.pid },
    network: { mode: 'docker-bridge', netns: `ignite-${uid}` },
  });
  assert.equal(hv?.linksUp, true, 'links up once the network is whole');
  assert.equal(s.runtimeFiles.readRunRecord(uid)?.runtime?.spawnPid, s.host.pid);
  assert.equal(s.vmMetrics.served[0]?.socketPath, `${dir}/prometheus.sock`);
  assert.deepEqual(s.vmMetrics.served[0]?.identity, {
    uid,
    name: 'web',
    vmm: 'qemu',
    image: 'docker.io/library/busybox:latest',
    kernel: 'docker.io/weaveworks/ignite-kernel:4.19.47',
  });

  s.processes.exit(hv?.pid ?? 0);
  await run;
});

test('superviseVM: however the hypervisor ends, the VM is recorded Stopped and torn down', async (t) => {
  const cases: {
    name: string;
    guest: GuestShutdown;
    /** What ends the run: signals to the supervisor, or the hypervisor exiting by itself. */
    end: HandledSignal[] | 'hypervisor exits';
    shutdowns: number;
    kills: number;
  }[] = [
    {
      name: 'the hypervisor exits by itself',
      guest: 'powers-off',
      end: 'hypervisor exits',
      shutdowns: 0,
      kills: 0,
    },
    {
      name: 'SIGTERM: the guest powers off',
      guest: 'powers-off',
      end: ['SIGTERM'],
      shutdowns: 1,
      kills: 0,
    },
    { name: 'SIGINT as SIGTERM', guest: 'powers-off', end: ['SIGINT'], shutdowns: 1, kills: 0 },
    {
      name: 'SIGTERM twice asks once',
      guest: 'powers-off',
      end: ['SIGTERM', 'SIGTERM'],
      shutdowns: 1,
      kills: 0,
    },
    {
      name: 'SIGTERM: a guest that ignores it is killed after the timeout',
      guest: 'ignores',
      end: ['SIGTERM'],
      shutdowns: 1,
      kills: 1,
    },
    {
      name: 'SIGTERM: a failed power-off request kills at once',
      guest: 'fails',
      end: ['SIGTERM'],
      shutdowns: 1,
      kills: 1,
    },
    { name: 'SIGQUIT kills at once', guest: 'ignores', end: ['SIGQUIT'], shutdowns: 0, kills: 1 },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      s.drivers.qemu.guest = c.guest;
      const { uid } = await created(s);
      // The run record goes first: a supervisor killed while it tears down leaves none behind.
      const recordAtDetach: unknown[] = [];
      const detach = s.network.detach.bind(s.network);
      s.network.detach = (req) => {
        recordAtDetach.push(s.runtimeFiles.readRunRecord(req.uid));
        return detach(req);
      };
      const run = superviseVM(s, uid, { stopTimeoutMs: 30 });
      await untilState(s, uid, 'Running');
      const hv = s.drivers.qemu.running[0];
      assert.ok(hv);
      if (c.end === 'hypervisor exits') s.processes.exit(hv.pid);
      else for (const sig of c.end) assert.ok(s.signals.emit(sig), `${sig} handled`);
      await run;
      assert.equal(hv.shutdownCalls, c.shutdowns);
      assert.equal(hv.killCalls, c.kills);
      assert.deepEqual(recordAtDetach, [undefined]);
      await assertTornDown(s, uid);
    });
  }
});

test('superviseVM: the guest gets the whole stop timeout before it is killed', async () => {
  const s = fakeServices();
  s.drivers.qemu.guest = 'ignores';
  const { uid } = await created(s);
  const run = superviseVM(s, uid, { stopTimeoutMs: 300 });
  await untilState(s, uid, 'Running');
  const hv = s.drivers.qemu.running[0];
  const asked = performance.now();
  s.signals.emit('SIGTERM');
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(hv?.killCalls, 0, 'not killed before the timeout');
  await run;
  assert.equal(hv?.killCalls, 1);
  const waited = performance.now() - asked;
  assert.ok(waited >= 290 && waited < 3_000, `killed once the timeout passed (${waited} ms)`);
});

test('superviseVM refuses what it cannot boot, and starts nothing', async (t) => {
  const cases: {
    name: string;
    setup: (s: FakeServices, uid: string, vmlinux: string) => Promise<void> | void;
    code: ErrorCode;
    message: RegExp;
  }[] = [
    {
      name: 'another live supervisor runs it',
      setup: async (s, uid) => {
        const other = s.processes.add(['node', 'spawn', '--supervise-host']);
        await s.runtimeFiles.markSupervised(uid, other.pid);
        await s.client.vms.update(uid, (v) => {
          v.status = { state: 'Running', runtime: { spawnPid: other.pid } };
        });
      },
      code: 'FailedPrecondition',
      message: /^vm "web": already supervised by process \d+$/,
    },
    {
      name: 'its kernel is not imported',
      setup: async (s) => {
        const k = await s.client.kernels.list();
        for (const x of k) await s.client.kernels.delete(x.metadata.uid);
      },
      code: 'FailedPrecondition',
      message: /vm "web": kernel "docker.io\/weaveworks\/ignite-kernel:4.19.47" is not imported/,
    },
    {
      name: "its kernel's vmlinux is missing",
      setup: (s, _uid, vmlinux) => void s.runtimeFiles.files.delete(vmlinux),
      code: 'FailedPrecondition',
      message: /vmlinux is missing/,
    },
    {
      name: 'its root disk is missing',
      setup: (s, uid) => void s.runtimeFiles.rootDisks.delete(uid),
      code: 'FailedPrecondition',
      message: /^root disk missing in /,
    },
    {
      name: 'its VMM is unknown',
      setup: async (s, uid) =>
        void (await s.client.vms.update(uid, (v) => {
          v.metadata.annotations = { ...v.metadata.annotations, [VMM_ANNOTATION]: 'bochs' };
        })),
      code: 'InvalidArgument',
      message: /vm "web": unknown vmm "bochs"/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      const { uid, vmlinux } = await created(s);
      await c.setup(s, uid, vmlinux);
      const before = (await s.client.vms.get(uid)).status;
      await rejectsWith(superviseVM(s, uid), c.code, c.message);
      assert.deepEqual(s.drivers.qemu.started, []);
      assert.deepEqual(s.network.opsFor(uid), ['reserve'], 'network not touched');
      assert.deepEqual((await s.client.vms.get(uid)).status, before, 'record unchanged');
    });
  }
});

test('superviseVM: a boot that fails undoes the network and leaves the VM as it was', async (t) => {
  const cases: { name: string; fail: (s: FakeServices) => void; message: RegExp }[] = [
    {
      name: 'the hypervisor does not start',
      fail: (s) => void (s.drivers.qemu.failStart = new Error('qemu: /dev/kvm: permission denied')),
      message: /permission denied/,
    },
    {
      name: 'the network cannot be attached',
      fail: (s) => void (s.network.fail.attach = new Error('bridge ignite0: no such device')),
      message: /no such device/,
    },
    {
      name: 'the network fails once the hypervisor started on its links',
      fail: (s) => void (s.network.failAfterLinks = new Error('portmap: port 8080 is taken')),
      message: /port 8080 is taken/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      const { uid } = await created(s);
      c.fail(s);
      await assert.rejects(superviseVM(s, uid), c.message);
      const vm = await s.client.vms.get(uid);
      assert.equal(vm.status.state, 'Created', 'never ran, so not Stopped');
      assert.equal(s.network.opsFor(uid).at(-1), 'detach');
      assert.equal(s.runtimeFiles.readRunRecord(uid), undefined);
      assert.ok(
        s.drivers.qemu.running.every((r) => !r.process.alive),
        'no hypervisor left',
      );
    });
  }
});

test('superviseVM: a record another supervisor took over is left as that one wrote it', async () => {
  const s = fakeServices();
  const { uid } = await created(s);
  const run = superviseVM(s, uid);
  await untilState(s, uid, 'Running');
  await s.client.vms.update(uid, (v) => {
    v.status = { ...v.status, state: 'Running', runtime: { vmm: 'qemu', spawnPid: 99, pid: 100 } };
  });
  s.processes.exit(s.drivers.qemu.running[0]?.pid ?? 0);
  await run;
  const vm = await s.client.vms.get(uid);
  assert.equal(vm.status.state, 'Running');
  assert.equal(vm.status.runtime?.spawnPid, 99);
});
