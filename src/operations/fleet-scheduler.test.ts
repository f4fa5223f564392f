import { MemoryFleet } from '../../test/fakes/memory-fleet.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import type { StoredVM } from '../api/index.js';
import { MemoryRawStorage, newClient, type Client } from '../storage/index.js';
import { FakeClock } from '../../test/fakes/fake-clock.js';
import {
  fleetVM,
  hostObject,
  type HostFixture,
  type VMFixture,
} from '../../test/fakes/fleet-objects.js';
import { runScheduler } from './fleet-scheduler.js';

const GRACE_MS = 5000;

interface Harness {
  client: Client;
  fleet: MemoryFleet;
  clock: FakeClock;
  logs: string[];
  addHost(name: string, f?: HostFixture): Promise<void>;
  addVM(name: string, f?: VMFixture): Promise<StoredVM>;
  vm(name: string): Promise<StoredVM>;
  /** Waits (in real time) until the VM satisfies `ok`. */
  until(name: string, ok: (vm: StoredVM) => boolean): Promise<StoredVM>;
  [Symbol.asyncDispose](): Promise<void>;
}

function scheduler(): Harness {
  const clock = new FakeClock();
  const client = newClient(new MemoryRawStorage(), () => clock.now());
  const fleet = new MemoryFleet();
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void logs.push(l) });
  const abort = new AbortController();
  const running = runScheduler({ client, fleet, clock, logger, hostName: 'h0' }, abort.signal, {
    graceMs: GRACE_MS,
  });
  const vm = (name: string): Promise<StoredVM> => client.vms.find(name);
  const until = async (name: string, ok: (vm: StoredVM) => boolean): Promise<StoredVM> => {
    for (let i = 0; i < 200; i++) {
      const v = await client.vms.tryFind(name);
      if (v !== undefined && ok(v)) return v;
      await delay(10);
    }
    assert.fail(
      `vm "${name}": condition not met: ${JSON.stringify((await vm(name)).status)} ${logs.join('')}`,
    );
  };
  return {
    client,
    fleet,
    clock,
    logs,
    addHost: async (name, f) => {
      await client.hosts.create(hostObject(name, f));
      fleet.setLive(name, true);
    },
    addVM: (name, f) => client.vms.create(fleetVM(name, f)),
    vm,
    until,
    [Symbol.asyncDispose]: async () => {
      abort.abort();
      await running;
    },
  };
}

test('runScheduler places an unplaced VM on a Ready host, generation 1', async () => {
  await using s = scheduler();
  await s.addHost('h1');
  await s.addVM('web');
  const vm = await s.until('web', (v) => v.status.host !== undefined);
  assert.equal(vm.status.host, 'h1');
  assert.deepEqual(vm.status.placement, { generation: 1, time: '2024-01-01T00:00:00.000Z' });
  assert.equal(vm.status.state, 'Pending');
});

test('runScheduler records why a VM does not fit once, and places it when a host comes', async () => {
  await using s = scheduler();
  await s.addHost('h1', { cpus: 1 });
  await s.addVM('big', { cpus: 2 });
  const waiting = await s.until('big', (v) => v.status.placement?.message !== undefined);
  assert.equal(
    waiting.status.placement?.message,
    'no Ready host has 2 CPUs and 64MB free (h1: 1 CPU free)',
  );
  assert.equal(waiting.status.host, undefined);
  await delay(50);
  assert.equal(s.logs.filter((l) => l.includes('not placed')).length, 1, 'said once');
  await s.addHost('h2', { cpus: 4 });
  const placed = await s.until('big', (v) => v.status.host !== undefined);
  assert.equal(placed.status.host, 'h2');
  assert.equal(placed.status.placement?.generation, 1);
  assert.equal(placed.status.placement?.message, undefined);
});

test('runScheduler spreads VMs and keeps every host within capacity', async () => {
  await using s = scheduler();
  for (const h of ['h1', 'h2', 'h3']) await s.addHost(h);
  for (let i = 0; i < 7; i++) await s.addVM(`vm${i}`);
  for (let i = 0; i < 6; i++) await s.until(`vm${i}`, (v) => v.status.host !== undefined);
  const last = await s.until('vm6', (v) => v.status.placement?.message !== undefined);
  assert.equal(last.status.host, undefined);
  const counts = new Map<string, number>();
  for (const vm of await s.client.vms.list())
    if (vm.status.host) counts.set(vm.status.host, (counts.get(vm.status.host) ?? 0) + 1);
  assert.deepEqual([...counts.entries()].sort(), [
    ['h1', 2],
    ['h2', 2],
    ['h3', 2],
  ]);
});

test('runScheduler moves replaceable VMs of a lost host after TTL + grace, and no others', async () => {
  await using s = scheduler();
  await s.addHost('h1', { ttl: 5 });
  await s.addHost('h2', { ttl: 5 });
  await s.addVM('keep', { onHost: 'h1' });
  await s.addVM('move', { onHost: 'h1', reschedule: true });
  await s.until('keep', (v) => v.status.host === 'h1');
  await s.until('move', (v) => v.status.host === 'h1');
  // As an agent records a run: the scheduler must drop it when it moves the VM.
  const running = await s.client.vms.update((await s.vm('move')).metadata.uid, (v) => {
    v.spec.placement = { reschedule: true };
    v.status.state = 'Running';
    v.status.runtime = { pid: 42 };
    v.status.ipAddresses = ['10.0.0.2'];
    v.status.startTime = '2024-01-01T00:00:00Z';
  });
  assert.equal(running.status.host, 'h1');

  s.fleet.setLive('h1', false);
  s.clock.advance(5000 + GRACE_MS - 1);
  await delay(50);
  assert.equal((await s.vm('move')).status.host, 'h1', 'not before TTL + grace');
  s.clock.advance(1);
  const moved = await s.until('move', (v) => v.status.host === 'h2');
  assert.equal(moved.status.state, 'Pending');
  assert.equal(moved.status.placement?.generation, 2);
  assert.equal(moved.status.runtime, undefined);
  assert.equal(moved.status.ipAddresses, undefined);
  assert.equal(moved.status.startTime, undefined);
  await delay(50);
  assert.equal((await s.vm('keep')).status.host, 'h1', 'a non-replaceable VM waits for its host');
});

test('runScheduler does not move a VM whose host came back in time', async () => {
  await using s = scheduler();
  await s.addHost('h1');
  await s.addHost('h2');
  await s.addVM('move', { onHost: 'h1', reschedule: true });
  const placed = await s.until('move', (v) => v.status.host === 'h1');
  await s.client.vms.update(placed.metadata.uid, (v) => {
    v.spec.placement = { reschedule: true };
  });
  s.fleet.setLive('h1', false);
  s.clock.advance(3000);
  s.fleet.setLive('h1', true);
  s.clock.advance(10_000);
  await delay(50);
  assert.equal((await s.vm('move')).status.host, 'h1');
  assert.equal((await s.vm('move')).status.placement?.generation, 1);
});

test('runScheduler moves the replaceable VMs of a drained host at once', async () => {
  await using s = scheduler();
  await s.addHost('h1');
  await s.addVM('move', { reschedule: true });
  await s.addVM('keep');
  await s.until('move', (v) => v.status.host === 'h1');
  await s.until('keep', (v) => v.status.host === 'h1');
  await s.addHost('h2');
  const h1 = await s.client.hosts.find('h1');
  await s.client.hosts.update(h1.metadata.uid, (h) => {
    h.spec.unschedulable = true;
  });
  const moved = await s.until('move', (v) => v.status.host === 'h2');
  assert.equal(moved.status.placement?.generation, 2);
  await delay(50);
  assert.equal((await s.vm('keep')).status.host, 'h1');
});

test('runScheduler ends when its signal aborts', async () => {
  const s = scheduler();
  await s[Symbol.asyncDispose]();
  assert.ok(s.logs.some((l) => l.includes('scheduler on h0: stopped')));
});
