import { MemoryFleet } from '../../test/fakes/memory-fleet.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { IGNITE_V04_DEFAULTS, type StoredVM } from '../api/index.js';
import { MemoryRawStorage, newClient, type Client } from '../storage/index.js';
import { rejectsWith } from '../../test/fakes/expect.js';
import { FakeClock } from '../../test/fakes/fake-clock.js';
import { fleetVM, hostObject } from '../../test/fakes/fleet-objects.js';
import type { Engine } from './engine.js';
import { FleetEngine } from './fleet-engine.js';

interface Call {
  engine: string;
  method: string;
  args: unknown[];
}

/** An Engine that records each call under `name` and answers `answer`. */
function recordingEngine(name: string, calls: Call[], answer: unknown = 'ok'): Engine {
  return new Proxy({} as Engine, {
    get:
      (_t, method) =>
      (...args: unknown[]) => {
        calls.push({ engine: name, method: String(method), args });
        return Promise.resolve(answer);
      },
  });
}

function harness() {
  const clock = new FakeClock();
  const client = newClient(new MemoryRawStorage(), () => clock.now());
  const fleet = new MemoryFleet();
  const calls: Call[] = [];
  const engine = new FleetEngine({
    client,
    fleet,
    clock,
    local: recordingEngine('local', calls),
    daemonFor: (address) => recordingEngine(address, calls, 'uid-from-daemon'),
    vmDefaults: IGNITE_V04_DEFAULTS,
    createTimeoutMs: 60_000,
  });
  return { clock, client, fleet, calls, engine };
}

/** Waits (in real time) until the VM is stored, then lets `act` play its host's agent. */
async function asAgent(
  client: Client,
  name: string,
  act: (vm: StoredVM) => void,
): Promise<StoredVM> {
  for (let i = 0; i < 200; i++) {
    const vm = await client.vms.tryFind(name);
    if (vm !== undefined) return client.vms.update(vm.metadata.uid, act);
    await delay(5);
  }
  assert.fail(`vm "${name}": never stored`);
}

async function placed(client: Client, name: string, host: string, state = 'Running' as const) {
  const vm = fleetVM(name, { host, state });
  return client.vms.create(vm);
}

test('FleetEngine.createVM stores a Pending VM with its placement and waits until it is made', async () => {
  const { client, engine } = harness();
  const manifest = fleetVM('web', { cpus: 2, selector: { zone: 'a' }, reschedule: true });
  delete manifest.status;
  const creating = engine.createVM(manifest);
  const stored = await asAgent(client, 'web', (v) => {
    assert.equal(v.status.state, 'Pending', 'stored Pending');
    assert.equal(v.status.host, undefined);
    assert.equal(v.status.desiredState, undefined, 'create does not ask it to run');
    v.status.host = 'h1';
    v.status.placement = { generation: 1, time: '2024-01-01T00:00:00Z' };
  });
  assert.deepEqual(stored.spec.placement, { hostSelector: { zone: 'a' }, reschedule: true });
  assert.equal(stored.spec.cpus, 2);
  await delay(20);
  await asAgent(client, 'web', (v) => {
    v.status.state = 'Created';
  });
  const vm = await creating;
  assert.equal(vm.status.state, 'Created');
  assert.equal(vm.status.host, 'h1');
});

test('FleetEngine.createVM with start asks for Running and waits for it', async () => {
  const { client, engine } = harness();
  const manifest = fleetVM('web');
  delete manifest.status;
  const running = engine.createVM(manifest, { start: { timeoutMs: 1000, sshTimeoutMs: 1000 } });
  await asAgent(client, 'web', (v) => {
    assert.equal(v.status.desiredState, 'Running');
    v.status.host = 'h1';
    v.status.state = 'Created';
  });
  await delay(20);
  await asAgent(client, 'web', (v) => {
    v.status.state = 'Running';
  });
  assert.equal((await running).status.state, 'Running');
});

test('FleetEngine.createVM fails on timeout with why it is not placed, and keeps the VM', async () => {
  const { client, clock, engine } = harness();
  const manifest = fleetVM('web');
  delete manifest.status;
  const creating = engine.createVM(manifest);
  await asAgent(client, 'web', (v) => {
    v.status.placement = {
      generation: 1,
      time: '2024-01-01T00:00:00Z',
      message: 'no Ready host has 1 CPU and 64MB free (h1: NotReady)',
    };
  });
  await delay(20);
  clock.advance(60_000);
  await rejectsWith(
    creating,
    'Unavailable',
    /^vm "web": not placed: no Ready host has 1 CPU and 64MB free \(h1: NotReady\)$/,
  );
  assert.ok(await client.vms.tryFind('web'), 'the VM stays stored');
});

test('FleetEngine.listVMs and findVM show Unknown for a VM whose host is not live', async () => {
  const { client, fleet, engine } = harness();
  fleet.setLive('h1', true);
  await placed(client, 'a', 'h1');
  await placed(client, 'b', 'h2');
  await client.vms.create(fleetVM('c'));
  const states = (await engine.listVMs()).map((v) => [v.metadata.name, v.status.state]);
  assert.deepEqual(states, [
    ['a', 'Running'],
    ['b', 'Unknown'],
    ['c', 'Pending'],
  ]);
  assert.equal((await engine.findVM('b')).status.state, 'Unknown');
  assert.equal((await client.vms.find('b')).status.state, 'Running', 'Unknown is never stored');
});

test('FleetEngine.startVM and stopVM set desiredState and wait for the agent', async () => {
  const { client, fleet, engine, calls } = harness();
  fleet.setLive('h1', true);
  await placed(client, 'web', 'h1', 'Running');
  const stopping = engine.stopVM('web', { kill: false });
  await delay(20);
  assert.equal((await client.vms.find('web')).status.desiredState, 'Stopped');
  await asAgent(client, 'web', (v) => {
    v.status.state = 'Stopped';
  });
  assert.equal((await stopping).status.state, 'Stopped');
  const starting = engine.startVM('web');
  await delay(20);
  assert.equal((await client.vms.find('web')).status.desiredState, 'Running');
  await asAgent(client, 'web', (v) => {
    v.status.state = 'Running';
  });
  assert.equal((await starting).status.state, 'Running');
  assert.deepEqual(calls, [], 'nothing forwarded');
});

test('FleetEngine forwards logs, metrics and kill to the owner daemon by UID', async () => {
  const { client, fleet, engine, calls } = harness();
  await client.hosts.create(hostObject('h1', { address: 'unix:///r1/ignited.sock' }));
  fleet.setLive('h1', true);
  const vm = await placed(client, 'web', 'h1');
  const uid = vm.metadata.uid;
  await engine.vmLogs('web', process.stdout, { spawn: true });
  await engine.vmMetrics('web');
  await engine.stopVM('web', { kill: true });
  assert.deepEqual(
    calls.map((c) => [c.engine, c.method, c.args[0]]),
    [
      ['unix:///r1/ignited.sock', 'vmLogs', uid],
      ['unix:///r1/ignited.sock', 'vmMetrics', uid],
      ['unix:///r1/ignited.sock', 'stopVM', uid],
    ],
  );
  assert.deepEqual(calls[0]?.args[2], { spawn: true });
  assert.equal((await client.vms.find('web')).status.desiredState, 'Stopped');
  fleet.setLive('h1', false);
  await rejectsWith(engine.vmLogs('web', process.stdout), 'Unavailable', /host "h1" is NotReady/);
});

test('FleetEngine.removeVM: forwarded to a live owner; --force deletes when the owner is gone', async () => {
  const { client, fleet, engine, calls } = harness();
  await client.hosts.create(hostObject('h1'));
  fleet.setLive('h1', true);
  const vm = await placed(client, 'web', 'h1');
  assert.equal(await engine.removeVM('web', { force: false }), 'uid-from-daemon');
  assert.deepEqual(
    calls.map((c) => [c.method, c.args[0]]),
    [['removeVM', vm.metadata.uid]],
  );
  fleet.setLive('h1', false);
  const refused = await rejectsWith(
    engine.removeVM('web', { force: false }),
    'FailedPrecondition',
    /^vm "web": its host "h1" is NotReady$/,
  );
  assert.match(refused.hint ?? '', /--force/);
  assert.equal(await engine.removeVM('web', { force: true }), vm.metadata.uid);
  assert.equal(await client.vms.tryFind('web'), undefined);
  assert.equal(calls.length, 1);
});

test('FleetEngine: an unplaced VM is removed from the store; artifacts are the local host’s', async () => {
  const { client, engine, calls } = harness();
  const vm = await client.vms.create(fleetVM('web'));
  assert.equal(await engine.removeVM('web', { force: false }), vm.metadata.uid);
  await engine.listArtifacts('Image');
  await engine.importArtifact('Kernel', 'k');
  assert.deepEqual(
    calls.map((c) => [c.engine, c.method]),
    [
      ['local', 'listArtifacts'],
      ['local', 'importArtifact'],
    ],
  );
});
