import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredVM } from '../api/index.js';
import { rejectsWith } from '../../test/fakes/expect.js';
import {
  DATA_DIR,
  fakeServices,
  HOST_SUPERVISOR_ARGS,
  HOST_SUPERVISOR_LOG,
  SPAWN_FILE,
  type FakeServices,
} from '../../test/fakes/fake-services.js';
import type { SpawnRecord } from '../../test/fakes/fake-processes.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import type { ProcessRef } from '../system/processes.js';
import type { LogLevel } from '../system/logger.js';
import { createVM } from './create-vm.js';
import { lastError, startVM, startVMAhead } from './start-vm.js';
import { launchHostSupervisor } from './supervisor-launch.js';

async function created(s: FakeServices, name = 'web'): Promise<StoredVM> {
  return createVM(s, { image: 'busybox', name, cpus: 2 });
}

test('startVM spawns the supervisor, which boots the VM and records it Running', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const vm = await created(s);
  const uid = vm.metadata.uid;
  const started = await startVM(s, 'web');

  assert.equal(s.processes.spawned.length, 1);
  const spawn = s.processes.spawned[0];
  assert.equal(spawn?.file, SPAWN_FILE);
  assert.deepEqual(spawn?.args, HOST_SUPERVISOR_ARGS);
  assert.equal(spawn?.options.logFile, HOST_SUPERVISOR_LOG);
  assert.equal(spawn?.options.env, s.config.env);
  assert.equal(s.runtimeFiles.supervisedBy(uid), spawn?.process.pid, 'marked as supervised');

  assert.equal(started.status.state, 'Running');
  assert.equal(started.status.runtime?.spawnPid, spawn?.process.pid);
  assert.equal(started.status.runtime?.pid, s.drivers.qemu.running[0]?.pid);
  assert.deepEqual(started.status.ipAddresses, ['10.61.0.2'], 'the address reserved at create');
  const config = s.drivers.qemu.started[0];
  assert.equal(config?.vcpus, 2);
  assert.equal(config?.memoryMiB, 512);
  assert.deepEqual(config?.rootDisk, {
    path: `${DATA_DIR}/vm/${uid}/rootfs.qcow2`,
    format: 'qcow2',
  });
  const mac = s.network.attachmentOf(uid)?.mac;
  assert.ok(mac, 'the network gave the VM a MAC');
  assert.deepEqual(config?.nics, [{ tapName: 'tap0', mac }], "the network's attachment");
  assert.equal(config?.netns, `ignite-${uid}`);
});

test('two starts of one VM at once launch one supervisor; the second finds it running', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  await created(s);
  const [a, b] = await Promise.all([startVM(s, 'web'), startVM(s, 'web', { by: 'policy' })]);
  assert.equal(s.processes.spawned.length, 1);
  assert.equal(a.status.runtime?.spawnPid, b.status.runtime?.spawnPid);
  assert.equal(b.status.state, 'Running');
});

test('a second VM is handed to the same host supervisor', async () => {
  const s = fakeServices();
  const handed = installSupervisor(s, { kind: 'supervises' });
  await created(s, 'a');
  await created(s, 'b');
  const a = await startVM(s, 'a');
  const b = await startVM(s, 'b');
  assert.equal(s.processes.spawned.length, 1, 'one supervisor for both');
  assert.equal(a.status.runtime?.spawnPid, b.status.runtime?.spawnPid);
  assert.deepEqual(
    handed.map((h) => h.uid),
    [a.metadata.uid, b.metadata.uid],
  );
  assert.equal(b.status.state, 'Running');
});

/**
 * A host supervisor started as bin/ignite.js starts one before the CLI has loaded: spawned, its
 * pid file claimed, and not answering until its `answersAt`-th ping.
 */
test('a supervisor on a local store starts without the extra CA certificates it has no use for', () => {
  const s = fakeServices();
  const launch = (env: NodeJS.ProcessEnv) => {
    launchHostSupervisor({
      config: { ...s.config, env },
      files: s.layout.hostSupervisor,
      processes: s.processes,
      spawnCommand: s.spawnCommand,
    });
    return s.processes.spawned.at(-1)?.options.env;
  };
  const extra = { NODE_EXTRA_CA_CERTS: '/etc/ssl/corp.pem', PATH: '/usr/bin' };
  assert.deepEqual(launch(extra), { PATH: '/usr/bin' });
  const etcd = { ...extra, IGNITE_STORE: 'etcd://127.0.0.1:2379' };
  assert.deepEqual(launch(etcd), etcd, 'its etcd connection may need them');
  const plain = { PATH: '/usr/bin' };
  assert.equal(launch(plain), plain);
});

function earlySupervisor(s: FakeServices, answersAt: number): ProcessRef {
  const install = s.processes.onSpawn;
  assert.ok(install, 'installSupervisor first');
  const deferred: SpawnRecord[] = [];
  s.processes.onSpawn = (r) => void deferred.push(r);
  const early = launchHostSupervisor({
    config: s.config,
    files: s.layout.hostSupervisor,
    processes: s.processes,
    spawnCommand: s.spawnCommand,
  });
  s.processes.onSpawn = install;
  let pings = 0;
  const request = s.requests.request.bind(s.requests);
  s.requests.request = (path, r, timeoutMs) => {
    if ((r as { op?: string }).op === 'ping' && ++pings === answersAt)
      for (const d of deferred.splice(0)) if (d.process.alive) install(d);
    return request(path, r, timeoutMs);
  };
  return early;
}

test('a host supervisor still starting, as its pid file says, is waited for: no second one starts', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  await created(s);
  const early = earlySupervisor(s, 4);
  assert.deepEqual(s.processes.pidFileHolder(s.layout.hostSupervisorPidFile), early);
  const vm = await startVM(s, 'web');
  assert.equal(s.processes.spawned.length, 1, 'no second supervisor');
  assert.equal(vm.status.runtime?.spawnPid, early.pid);
  assert.equal(vm.status.state, 'Running');
});

test('a host supervisor that ends while starting, before it answers, is replaced', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  await created(s);
  const early = earlySupervisor(s, Infinity);
  s.processes.exit(early.pid);
  const vm = await startVM(s, 'web');
  assert.equal(s.processes.spawned.length, 2);
  const second = s.processes.spawned[1]?.process.pid;
  assert.equal(vm.status.runtime?.spawnPid, second);
  assert.equal(s.processes.pidFileHolder(s.layout.hostSupervisorPidFile)?.pid, second);
});

test("startVM: the supervisor's log level, and the VM's", async (t) => {
  const cases: {
    name: string;
    host: LogLevel;
    option?: LogLevel;
    want: string;
    vm?: LogLevel;
  }[] = [
    { name: "this process's level", host: 'warn', want: 'warn', vm: 'warn' },
    {
      name: 'the option is the VM’s alone (run --debug)',
      host: 'info',
      option: 'debug',
      want: 'info',
      vm: 'debug',
    },
    { name: 'silent here still logs info there', host: 'silent', want: 'info', vm: 'info' },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      const handed = installSupervisor(s, { kind: 'supervises' });
      s.config.logLevel = c.host;
      await created(s);
      await startVM(s, 'web', c.option !== undefined ? { logLevel: c.option } : {});
      const args = s.processes.spawned[0]?.args ?? [];
      assert.equal(args[args.indexOf('--log-level') + 1], c.want);
      assert.equal(handed[0]?.request.logLevel, c.vm);
    });
  }
});

test('startVM on a running VM is a no-op', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  await created(s);
  const first = await startVM(s, 'web');
  const again = await startVM(s, 'web');
  assert.equal(s.processes.spawned.length, 1, 'no second supervisor');
  assert.equal(again.status.runtime?.spawnPid, first.status.runtime?.spawnPid);
  assert.equal(s.drivers.qemu.started.length, 1);
});

test('startVM refuses what cannot start, before spawning anything', async (t) => {
  const cases: {
    name: string;
    setup: (s: FakeServices, uid: string) => void;
    code: 'FailedPrecondition' | 'PermissionDenied';
    message: RegExp;
  }[] = [
    {
      name: 'the root disk is missing',
      setup: (s, uid) => void s.runtimeFiles.rootDisks.delete(uid),
      code: 'FailedPrecondition',
      message: /vm "web": its root disk is missing/,
    },
    {
      name: 'a VM on a network, as a user',
      setup: (s) => void (s.host.isRoot = false),
      code: 'PermissionDenied',
      message: /vm "web": its network \(docker-bridge\) needs root/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      installSupervisor(s, { kind: 'supervises' });
      const vm = await created(s);
      c.setup(s, vm.metadata.uid);
      await rejectsWith(startVM(s, 'web'), c.code, c.message);
      assert.equal(s.processes.spawned.length, 0);
    });
  }
});

test('startVM: a host supervisor that ends as it starts fails the start, pointing at its log', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'dies' });
  await created(s);
  const err = await rejectsWith(
    startVM(s, 'web'),
    'Unavailable',
    /^supervisor: ended as it started, and no other answers$/,
  );
  assert.equal(err.hint, `see ${DATA_DIR}/supervisor.log`);
  const vm = await s.client.vms.find('web');
  assert.equal(vm.status.state, 'Created');
});

test('startVM: what superviseVM fails on reaches the caller, and the supervisor stays for others', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  await created(s);
  s.drivers.qemu.failStart = new Error('qemu: machine type microvm not supported');
  await rejectsWith(
    startVM(s, 'web'),
    'Unavailable',
    /failed to start: qemu: machine type microvm not supported/,
  );
  const vm = await s.client.vms.get((await s.client.vms.find('web')).metadata.uid);
  assert.equal(vm.status.state, 'Created', 'a VM that never ran stays Created');
  assert.equal(s.runtimeFiles.supervisedBy(vm.metadata.uid), undefined, 'no mark left');
  delete s.drivers.qemu.failStart;
  assert.equal((await startVM(s, 'web')).status.state, 'Running');
  assert.equal(s.processes.spawned.length, 1, 'the same supervisor');
});

test('startVM: a supervisor that never reports times out', async (t) => {
  const cases: { name: string; timeoutMs?: number; message: RegExp; waited: number }[] = [
    { name: 'after the default 120 s', message: /within 120 s$/, waited: 120_000 },
    { name: 'after the timeout given', timeoutMs: 5_000, message: /within 5 s$/, waited: 5_000 },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      installSupervisor(s, { kind: 'hangs' });
      await created(s);
      const t0 = s.clock.now().getTime();
      await rejectsWith(
        startVM(s, 'web', c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}),
        'Unavailable',
        new RegExp(`^vm "web": did not report running ${c.message.source}`),
      );
      const waited = s.clock.now().getTime() - t0;
      assert.ok(waited >= c.waited && waited < c.waited + 1_000, `waited ${waited} ms`);
    });
  }
});

test('lastError picks the message a person needs', () => {
  const cases: [string | undefined, string][] = [
    [undefined, 'the supervisor exited without a log'],
    ['{"level":50,"msg":"a"}\n{"level":50,"msg":"b"}\n{"level":30,"msg":"c"}', 'b'],
    ['{"level":40,"msg":"only a warning"}', '{"level":40,"msg":"only a warning"}'],
    ['Error: boom', 'boom'],
  ];
  for (const [log, want] of cases) assert.equal(lastError(log), want);
});

test('startVMAhead makes sure of the host supervisor while the VM is checked', async (t) => {
  await t.test('a stopped VM: one supervisor, which runs it', async () => {
    const s = fakeServices();
    installSupervisor(s, { kind: 'supervises' });
    await created(s);
    const vm = await startVMAhead(s, 'web');
    assert.equal(s.processes.spawned.length, 1);
    assert.equal(vm.status.state, 'Running');
    assert.equal(vm.status.runtime?.spawnPid, s.processes.spawned[0]?.process.pid);
    assert.deepEqual(s.processes.signals, [], 'no signal to anyone');
  });
  await t.test('a refused start boots nothing; the supervisor stays, idle', async () => {
    const s = fakeServices();
    installSupervisor(s, { kind: 'supervises' });
    const vm = await created(s);
    s.runtimeFiles.rootDisks.delete(vm.metadata.uid);
    await rejectsWith(startVMAhead(s, 'web'), 'FailedPrecondition', /its root disk is missing/);
    assert.equal(s.drivers.qemu.started.length, 0, 'nothing booted');
    assert.equal(s.runtimeFiles.supervisedBy(vm.metadata.uid), undefined);
  });
  await t.test('a running VM: no second supervisor', async () => {
    const s = fakeServices();
    installSupervisor(s, { kind: 'supervises' });
    await created(s);
    const first = await startVMAhead(s, 'web');
    const again = await startVMAhead(s, 'web');
    assert.equal(s.processes.spawned.length, 1);
    assert.equal(again.status.runtime?.spawnPid, first.status.runtime?.spawnPid);
  });
});
