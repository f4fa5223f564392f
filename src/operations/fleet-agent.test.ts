import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Size, type StoredVM } from '../api/index.js';
import { hostVMDefaults } from '../system/vm-defaults.js';
import { fakeServices, type FakeServices } from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import { MemoryFleet } from '../../test/fakes/memory-fleet.js';
import { buildVM } from './build-vm.js';
import { runFleetAgent, type FleetAgentOptions } from './fleet-agent.js';

const AGENT: FleetAgentOptions = {
  name: 'h1',
  labels: { zone: 'a' },
  address: 'unix:///run/h1/ignited.sock',
  capacity: { cpus: 2, memory: Size.parse('256MB') },
  leaseTTLSeconds: 5,
  graceMs: 5000,
  version: 'v0.0.0-test',
  startTimeoutMs: 10_000,
};

/** Stores a VM as the fleet has it: Pending, placed on `host` by hand, as the scheduler would. */
async function storePlaced(
  s: FakeServices,
  name: string,
  host: string,
  o: { desired?: 'Running' | 'Stopped'; reschedule?: boolean } = {},
): Promise<StoredVM> {
  const vm = buildVM({ image: 'busybox:latest', name }, hostVMDefaults(s.config));
  if (o.reschedule === true) vm.spec.placement = { reschedule: true };
  vm.status = {
    state: 'Pending',
    host,
    placement: { generation: 1, time: s.clock.now().toISOString() },
    ...(o.desired !== undefined ? { desiredState: o.desired } : {}),
  };
  return s.client.vms.create(vm);
}

async function until<T>(what: string, fn: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) assert.fail(`${what}: not within 5 s`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function agent(s: FakeServices, fleet: MemoryFleet) {
  const abort = new AbortController();
  const done = runFleetAgent({ ...s, fleet }, { ...AGENT, passIntervalMs: 20 }, abort.signal);
  return {
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

const stateOf = (s: FakeServices, uid: string) => async () => {
  const vm = await s.client.vms.get(uid);
  return vm;
};

test('fleet agent: registers its Host, holds its lease, makes and starts a VM placed here', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const fleet = new MemoryFleet();
  const vm = await storePlaced(s, 'web', 'h1', { desired: 'Running' });
  const a = agent(s, fleet);
  try {
    const running = await until('running', async () => {
      const v = await stateOf(s, vm.metadata.uid)();
      return v.status.state === 'Running' ? v : undefined;
    });
    assert.equal(running.status.host, 'h1');
    assert.ok(running.status.image, 'made with its image recorded');
    assert.equal(s.rootDisks.requests.length, 1, 'its disk was built here');
    const host = await s.client.hosts.findByName('h1');
    assert.equal(host?.spec.capacity.cpus, 2);
    assert.equal(host?.spec.address, AGENT.address);
    assert.deepEqual(host?.metadata.labels, { zone: 'a' });
    assert.equal(host?.status?.version, 'v0.0.0-test');
    assert.deepEqual([...(await fleet.liveHosts())], ['h1']);
    assert.equal(await fleet.leader(), 'h1', 'it campaigns for the scheduler role');
  } finally {
    await a.stop();
  }
  assert.deepEqual([...(await fleet.liveHosts())], [], 'the lease is released on shutdown');
});

test('fleet agent: leaves VMs placed elsewhere alone and removes its local copies of them', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const fleet = new MemoryFleet();
  const other = await storePlaced(s, 'other', 'h2', { desired: 'Running' });
  s.runtimeFiles.vmDirs.add(other.metadata.uid);
  const gone = '00000000000000aa';
  s.runtimeFiles.vmDirs.add(gone);
  const a = agent(s, fleet);
  try {
    await until('copies removed', () =>
      Promise.resolve(s.runtimeFiles.vmDirs.size === 0 ? true : undefined),
    );
    await new Promise((r) => setTimeout(r, 100));
    const v = await s.client.vms.get(other.metadata.uid);
    assert.equal(v.status.state, 'Pending', "another host's VM is not made here");
    assert.equal(s.rootDisks.requests.length, 0);
  } finally {
    await a.stop();
  }
});

test('fleet agent: stops a VM placed here whose desired state is Stopped', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const fleet = new MemoryFleet();
  const vm = await storePlaced(s, 'web', 'h1', { desired: 'Running' });
  const a = agent(s, fleet);
  try {
    await until('running', async () =>
      (await stateOf(s, vm.metadata.uid)()).status.state === 'Running' ? true : undefined,
    );
    await s.client.vms.update(vm.metadata.uid, (v) => {
      v.status.desiredState = 'Stopped';
    });
    const stopped = await until('stopped', async () => {
      const v = await stateOf(s, vm.metadata.uid)();
      return v.status.state === 'Stopped' ? v : undefined;
    });
    assert.equal(stopped.status.lastExit?.reason, 'Stopped');
  } finally {
    await a.stop();
  }
});

test('fleet agent: a lost lease kills the replaceable VMs first, and they start again once it is back', async () => {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  const fleet = new MemoryFleet();
  const vm = await storePlaced(s, 'web', 'h1', { desired: 'Running', reschedule: true });
  const keep = await storePlaced(s, 'db', 'h1', { desired: 'Running' });
  const a = agent(s, fleet);
  try {
    const first = await until('running', async () => {
      const v = await stateOf(s, vm.metadata.uid)();
      const k = await stateOf(s, keep.metadata.uid)();
      return v.status.state === 'Running' && k.status.state === 'Running' ? v : undefined;
    });
    const keepHv = (await s.client.vms.get(keep.metadata.uid)).status.runtime?.pid;
    fleet.expire('h1');
    const again = await until('started again', async () => {
      const v = await stateOf(s, vm.metadata.uid)();
      const pid = v.status.runtime?.pid;
      return v.status.state === 'Running' && pid !== first.status.runtime?.pid ? v : undefined;
    });
    assert.equal(again.status.host, 'h1');
    assert.equal(
      s.processes.isAlive(first.status.runtime?.pid),
      false,
      'the first copy was killed',
    );
    const k = await s.client.vms.get(keep.metadata.uid);
    assert.equal(k.status.runtime?.pid, keepHv, 'a non-replaceable VM keeps running');
    assert.deepEqual([...(await fleet.liveHosts())], ['h1'], 'the lease is taken again');
    const handed = s.requests.sent
      .map((r) => r.request as { op: string; env?: Record<string, string> })
      .filter((r) => r.op === 'supervise')
      .map((r) => r.env?.['IGNITE_FENCE_DEADLINE']);
    assert.ok(handed.length >= 3);
    assert.ok(
      handed.every((d) => d !== undefined && Date.parse(d) > 0),
      'each run gets its first fence deadline',
    );
  } finally {
    await a.stop();
  }
});
