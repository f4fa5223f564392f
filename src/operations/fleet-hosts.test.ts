import { MemoryFleet } from '../../test/fakes/memory-fleet.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryRawStorage, newClient } from '../storage/index.js';
import { rejectsWith } from '../../test/fakes/expect.js';
import { FakeClock } from '../../test/fakes/fake-clock.js';
import { fleetVM, hostObject } from '../../test/fakes/fleet-objects.js';
import { drainHost, listHosts, setSchedulable } from './fleet-hosts.js';

function harness() {
  const clock = new FakeClock();
  const client = newClient(new MemoryRawStorage(), () => clock.now());
  const fleet = new MemoryFleet({ live: ['h1', 'h2'] });
  return { clock, client, fleet };
}

test('listHosts: readiness from leases and the drain mark, allocations of the VMs placed', async () => {
  const { client, fleet } = harness();
  await client.hosts.create(hostObject('h2', { labels: { zone: 'a' } }));
  await client.hosts.create(hostObject('h1', { cpus: 4, memory: '1GB' }));
  await client.hosts.create(hostObject('h3', { unschedulable: true }));
  await client.vms.create(fleetVM('a', { host: 'h1', cpus: 2, memory: '128MB' }));
  await client.vms.create(fleetVM('b', { host: 'h1' }));
  await client.vms.create(fleetVM('c'));
  const rows = await listHosts({ client, fleet });
  assert.deepEqual(
    rows.map((r) => [r.name, r.status, r.cpus, r.memory, r.vms, r.labels]),
    [
      [
        'h1',
        'Ready',
        { allocated: 3, capacity: 4 },
        { allocated: '192MB', capacity: '1GB' },
        2,
        {},
      ],
      [
        'h2',
        'Ready',
        { allocated: 0, capacity: 2 },
        { allocated: '0B', capacity: '256MB' },
        0,
        { zone: 'a' },
      ],
      [
        'h3',
        'NotReady',
        { allocated: 0, capacity: 2 },
        { allocated: '0B', capacity: '256MB' },
        0,
        {},
      ],
    ],
  );
  await setSchedulable({ client }, 'h2', false);
  assert.equal((await listHosts({ client, fleet }))[1]?.status, 'Ready,SchedulingDisabled');
  await setSchedulable({ client }, 'h2', true);
  assert.equal((await client.hosts.find('h2')).spec.unschedulable, undefined);
  await rejectsWith(setSchedulable({ client }, 'h9', true), 'NotFound', /^host "h9": not found$/);
});

test('drainHost marks the host unschedulable, reports moved VMs and those that stay', async () => {
  const { client, clock, fleet } = harness();
  await client.hosts.create(hostObject('h1'));
  await client.vms.create(fleetVM('keep', { host: 'h1' }));
  const move = await client.vms.create(fleetVM('move', { host: 'h1', reschedule: true }));
  const stuck = await client.vms.create(fleetVM('stuck', { host: 'h1', reschedule: true }));
  const draining = drainHost({ client, fleet, clock }, 'h1', { timeoutMs: 10_000 });
  // What the scheduler does once it sees the mark.
  for (let i = 0; i < 100 && (await client.hosts.find('h1')).spec.unschedulable !== true; i++)
    await new Promise((r) => setTimeout(r, 5));
  await client.vms.update(move.metadata.uid, (v) => {
    v.status.host = 'h2';
  });
  await client.vms.update(stuck.metadata.uid, (v) => {
    v.status.placement = {
      generation: 1,
      time: '2024-01-01T00:00:00Z',
      message: 'no Ready host has 1 CPU',
    };
  });
  await new Promise((r) => setTimeout(r, 20));
  clock.advance(10_000);
  const result = await draining;
  assert.deepEqual(result, {
    host: 'h1',
    moved: [{ vm: 'move', to: 'h2' }],
    stays: [
      { vm: 'keep', reason: 'not replaceable (no --reschedule)' },
      { vm: 'stuck', reason: 'not moved in time: no Ready host has 1 CPU' },
    ],
  });
  assert.equal((await client.hosts.find('h1')).spec.unschedulable, true);
});
