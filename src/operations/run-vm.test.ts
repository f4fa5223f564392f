import { test } from 'node:test';
import assert from 'node:assert/strict';
import { API_VERSION, type StoredVM } from '../api/index.js';
import { internal, unavailable, type ErrorCode } from '../errors.js';
import { rejectsWith } from '../../test/fakes/expect.js';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import { createVM, type CreateVMOptions } from './create-vm.js';
import { runVM, type RunVMOptions } from './run-vm.js';
import { reviveDecodedForm, type DecodedForm } from '../storage/decoded-form.js';

const TIMEOUTS: RunVMOptions = { startTimeoutMs: 60_000, sshTimeoutMs: 30_000 };

/** Records, in order, when the supervisor is spawned, the disk built and the supervisor told to go. */
function trace(s: FakeServices): string[] {
  const events: string[] = [];
  const onSpawn = s.processes.onSpawn;
  s.processes.onSpawn = (r) => {
    events.push('spawn');
    const onSignal = r.process.onSignal;
    onSpawn?.(r);
    const installed = r.process.onSignal ?? onSignal;
    r.process.onSignal = (signal, self) => {
      events.push(signal);
      installed?.(signal, self);
    };
  };
  const create = s.rootDisks.create.bind(s.rootDisks);
  s.rootDisks.create = (req) => {
    events.push('disk');
    return create(req);
  };
  return events;
}

test('runVM starts the host supervisor first, creates the VM meanwhile, then hands it over', async () => {
  const s = fakeServices();
  const handed = installSupervisor(s, { kind: 'supervises' });
  const events = trace(s);
  const vm = await runVM(s, { image: 'busybox', name: 'web' }, TIMEOUTS);
  const uid = vm.metadata.uid;

  assert.deepEqual(events, ['spawn', 'disk']);
  assert.equal(
    s.processes.spawned.length,
    1,
    'the supervisor started ahead is the one that runs it',
  );
  const spawn = s.processes.spawned[0];
  assert.deepEqual(
    handed.map((h) => h.uid),
    [uid],
  );
  assert.equal(vm.status.state, 'Running');
  assert.equal(vm.status.runtime?.spawnPid, spawn?.process.pid);
  assert.deepEqual(s.ssh.probes, [], 'no SSH wait for a VM without SSH');
});

test('runVM stores the VM as one that should run, so its start writes nothing before the hand-over', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const events: string[] = [];
  const update = s.client.vms.update.bind(s.client.vms);
  s.client.vms.update = (uid, mutate) => {
    events.push('update');
    return update(uid, mutate);
  };
  const request = s.requests.request.bind(s.requests);
  s.requests.request = (socket, body, timeoutMs) => {
    if ((body as { op?: string }).op === 'supervise') events.push('supervise');
    return request(socket, body, timeoutMs);
  };
  const vm = await runVM(s, { image: 'busybox', name: 'web' }, TIMEOUTS);
  assert.equal(events[0], 'supervise', `no write before the hand-over: ${events.join(', ')}`);
  assert.equal(vm.status.desiredState, 'Running');
});

test('runVM hands the VM over as it read it, with the checksum it is stored at', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const sent: unknown[] = [];
  const request = s.requests.request.bind(s.requests);
  s.requests.request = (socket, body, timeoutMs) => {
    if ((body as { op?: string }).op === 'supervise') sent.push(structuredClone(body));
    return request(socket, body, timeoutMs);
  };
  const vm = await runVM(s, { image: 'busybox', name: 'web' }, TIMEOUTS);
  const known = (sent[0] as { known?: { checksum: string; form: DecodedForm } }).known;
  assert.ok(known !== undefined, 'the VM went with the request');
  const revived = reviveDecodedForm(known.form) as StoredVM;
  assert.equal(revived.metadata.uid, vm.metadata.uid);
  assert.equal(revived.status.state, 'Created', 'as it was when handed over');
  assert.notEqual(
    known.checksum,
    await s.client.storage.checksum('VM', vm.metadata.uid),
    'recorded Running since',
  );
});

test("runVM keeps the manifest's UID and passes the log level to the supervisor", async () => {
  const s = fakeServices();
  const handed = installSupervisor(s, { kind: 'supervises' });
  const manifest = {
    apiVersion: API_VERSION,
    kind: 'VM' as const,
    metadata: { name: 'db', uid: '0123456789abcdef' },
    spec: { image: { ociClaim: { ref: 'busybox' } } },
  };
  const vm = await runVM(s, { manifest }, { ...TIMEOUTS, spawnLogLevel: 'debug' });
  assert.equal(vm.metadata.uid, '0123456789abcdef');
  assert.equal(handed[0]?.uid, '0123456789abcdef');
  assert.equal(handed[0]?.request.logLevel, 'debug');
});

test('runVM with SSH returns once the guest answers, and fails when it does not', async (t) => {
  const cases: { name: string; answers: boolean; fails?: RegExp }[] = [
    { name: 'answers', answers: true },
    {
      name: 'never answers',
      answers: false,
      fails: /^vm "web": SSH did not answer at 10\.61\.0\.2:22 within 30 s/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      installSupervisor(s, { kind: 'supervises' });
      s.ssh.answering = () => c.answers;
      const run = runVM(s, { image: 'busybox', name: 'web', ssh: true }, TIMEOUTS);
      if (c.fails) await rejectsWith(run, 'Unavailable', c.fails);
      else assert.equal((await run).status.state, 'Running');
      assert.equal(s.ssh.probes[0], '10.61.0.2:22');
      const vm = await s.client.vms.find('web');
      assert.equal(vm.status.state, 'Running', 'the VM keeps running either way');
    });
  }
});

test('runVM: a create that fails stores nothing and hands nothing over', async (t) => {
  const cases: {
    name: string;
    setup: (s: FakeServices) => Promise<void> | void;
    options?: Partial<CreateVMOptions>;
    code: ErrorCode;
    message: RegExp;
  }[] = [
    {
      name: 'the name is taken',
      setup: async (s) => void (await createVM(s, { image: 'busybox', name: 'web' })),
      code: 'AlreadyExists',
      message: /vm "web": already exists/,
    },
    {
      name: 'the image cannot be imported',
      setup: (s) => void s.imports.fail.set('busybox', unavailable('registry: down')),
      code: 'Unavailable',
      message: /registry: down/,
    },
    {
      name: 'the root disk cannot be built',
      setup: (s) => void (s.rootDisks.fail = internal('qemu-img: no space left on device')),
      code: 'Internal',
      message: /no space left/,
    },
    {
      name: 'an invalid name',
      setup: () => undefined,
      options: { name: 'Web!' },
      code: 'InvalidArgument',
      message: /vm name "Web!"/,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s = fakeServices();
      installSupervisor(s, { kind: 'supervises' });
      await c.setup(s);
      const before = (await s.client.vms.list()).map((v) => v.metadata.uid);
      const dirs = [...s.runtimeFiles.vmDirs];
      const reserved = s.network.holders();
      await rejectsWith(
        runVM(s, { image: 'busybox', name: 'web', ...c.options }, TIMEOUTS),
        c.code,
        c.message,
      );
      assert.deepEqual(
        s.requests.sent.filter((r) => (r.request as { op: string }).op === 'supervise'),
        [],
        'nothing handed to the supervisor',
      );
      assert.deepEqual([...s.runtimeFiles.vmDirs], dirs, 'no directory left');
      assert.deepEqual(
        (await s.client.vms.list()).map((v) => v.metadata.uid),
        before,
        'nothing stored',
      );
      assert.deepEqual(s.network.holders(), reserved, 'no address kept');
      assert.deepEqual(s.drivers.qemu.started, [], 'nothing booted');
    });
  }
});

test('runVM reserves the address while the disk is built; the supervisor attaches, and boots on the links before the attach completes', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const vm = await runVM(
    s,
    { image: 'busybox', name: 'web', ports: [{ hostPort: 8080, vmPort: 80 }] },
    TIMEOUTS,
  );
  const uid = vm.metadata.uid;
  assert.deepEqual(s.network.opsFor(uid), ['reserve', 'attach']);
  const [attachment] = s.network.attachments.map((a) => a.attachment);
  assert.deepEqual(vm.status.ipAddresses, attachment?.ipAddresses, 'the reserved address');
  const started = s.drivers.qemu.started[0];
  assert.deepEqual(started?.nics, attachment?.nics);
  assert.equal(started?.netns, attachment?.netns);
  assert.ok(s.network.isAttached(uid));
});

test('runVM: a start that fails leaves no network attached, unless its supervisor still runs', async (t) => {
  await t.test('the supervisor dies as it starts', async () => {
    const s = fakeServices();
    installSupervisor(s, { kind: 'dies' });
    await rejectsWith(
      runVM(s, { image: 'busybox', name: 'web' }, TIMEOUTS),
      'Unavailable',
      /^supervisor: ended as it started/,
    );
    const vm = await s.client.vms.find('web');
    assert.deepEqual(s.network.opsFor(vm.metadata.uid), ['reserve', 'detach']);
    assert.equal(s.network.isAttached(vm.metadata.uid), false);
    assert.equal(vm.status.state, 'Created');
  });
  await t.test('the VM fails in the supervisor', async () => {
    const s = fakeServices();
    installSupervisor(s, { kind: 'supervises' });
    s.drivers.qemu.failStart = new Error('qemu: cannot start');
    await rejectsWith(
      runVM(s, { image: 'busybox', name: 'web' }, TIMEOUTS),
      'Unavailable',
      /failed to start: qemu: cannot start/,
    );
    const vm = await s.client.vms.find('web');
    assert.equal(s.network.isAttached(vm.metadata.uid), false);
    assert.equal(vm.status.state, 'Created');
  });
  await t.test('the supervisor hangs', async () => {
    const s = fakeServices();
    installSupervisor(s, { kind: 'hangs' });
    await rejectsWith(
      runVM(s, { image: 'busybox', name: 'web' }, { ...TIMEOUTS, startTimeoutMs: 1000 }),
      'Unavailable',
      /did not report running within 1 s/,
    );
    const vm = await s.client.vms.find('web');
    assert.deepEqual(
      s.network.opsFor(vm.metadata.uid),
      ['reserve'],
      'left to the supervisor that may yet boot it',
    );
  });
});
