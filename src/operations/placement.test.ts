import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { StoredHost, StoredVM } from '../api/index.js';
import { storedHost, storedVM } from '../../test/fakes/fleet-objects.js';
import { hostAllocation, hostStatusText, placeVM } from './placement.js';

interface Case {
  name: string;
  vm: StoredVM;
  hosts: StoredHost[];
  placed?: StoredVM[];
  live?: string[];
  want: { host: string } | { reason: string };
}

const h1 = storedHost('h1');
const h2 = storedHost('h2');
const h3 = storedHost('h3');

const cases: Case[] = [
  {
    name: 'the host with the most free memory',
    vm: storedVM('web'),
    hosts: [h1, h2, h3],
    placed: [storedVM('a', { host: 'h1' }), storedVM('b', { host: 'h3', memory: '128MB' })],
    want: { host: 'h2' },
  },
  {
    name: 'equal free memory: the fewest VMs',
    vm: storedVM('web'),
    hosts: [storedHost('h1', { memory: '320MB' }), h2],
    placed: [storedVM('a', { host: 'h1' })],
    want: { host: 'h2' },
  },
  {
    name: 'equal memory and VMs: the first name',
    vm: storedVM('web'),
    hosts: [h3, h2, h1],
    want: { host: 'h1' },
  },
  {
    name: 'short of CPUs on one host, the other fits',
    vm: storedVM('web', { cpus: 2 }),
    hosts: [h1, h2],
    placed: [storedVM('a', { host: 'h1', cpus: 1, memory: '1MB' })],
    want: { host: 'h2' },
  },
  {
    name: 'none over capacity: nothing fits, each host says what it lacks',
    vm: storedVM('web', { cpus: 2, memory: '128MB' }),
    hosts: [h1, storedHost('h2', { cpus: 3 }), h3],
    placed: [
      storedVM('a', { host: 'h1', cpus: 1 }),
      storedVM('b', { host: 'h2', memory: '192MB' }),
      storedVM('c', { host: 'h3', cpus: 2, memory: '256MB' }),
    ],
    want: {
      reason:
        'no Ready host has 2 CPUs and 128MB free (h1: 1 CPU free; h2: 64MB free; h3: 0 CPUs free, 0B free)',
    },
  },
  {
    name: 'the VM itself does not count against its own host',
    vm: storedVM('web', { host: 'h1', cpus: 2, memory: '256MB' }),
    hosts: [h1],
    placed: [storedVM('web', { host: 'h1', cpus: 2, memory: '256MB' })],
    want: { host: 'h1' },
  },
  {
    name: 'selector: only a host with every label',
    vm: storedVM('web', { selector: { zone: 'a', disk: 'ssd' } }),
    hosts: [
      storedHost('h1', { labels: { zone: 'a' } }),
      storedHost('h2', { labels: { zone: 'a', disk: 'ssd' } }),
    ],
    want: { host: 'h2' },
  },
  {
    name: 'selector matches none',
    vm: storedVM('web', { selector: { zone: 'b' } }),
    hosts: [storedHost('h1', { labels: { zone: 'a' } })],
    want: { reason: 'no Ready host has 1 CPU and 64MB free (h1: no label zone=b)' },
  },
  {
    name: 'placement.host: that host even with more free elsewhere',
    vm: storedVM('web', { onHost: 'h1' }),
    hosts: [h1, h2],
    placed: [storedVM('a', { host: 'h1' })],
    want: { host: 'h1' },
  },
  {
    name: 'placement.host full',
    vm: storedVM('web', { onHost: 'h1', cpus: 3 }),
    hosts: [h1, h2],
    want: { reason: 'host "h1" does not have 3 CPUs and 64MB free (h1: 2 CPUs free)' },
  },
  {
    name: 'placement.host not registered',
    vm: storedVM('web', { onHost: 'h9' }),
    hosts: [h1],
    want: { reason: 'host "h9" is not registered' },
  },
  {
    name: 'unschedulable and NotReady hosts are skipped',
    vm: storedVM('web'),
    hosts: [storedHost('h1', { unschedulable: true }), h2, storedHost('h3', { memory: '1GB' })],
    live: ['h1', 'h2'],
    want: { host: 'h2' },
  },
  {
    name: 'no Ready host at all',
    vm: storedVM('web'),
    hosts: [storedHost('h1', { unschedulable: true }), h2],
    live: ['h1'],
    want: { reason: 'no Ready host has 1 CPU and 64MB free (h1: unschedulable; h2: NotReady)' },
  },
  {
    name: 'no hosts',
    vm: storedVM('web'),
    hosts: [],
    want: { reason: 'no Ready host has 1 CPU and 64MB free (no hosts registered)' },
  },
];

for (const c of cases) {
  test(`placeVM: ${c.name}`, () => {
    const live = new Set(c.live ?? c.hosts.map((h) => h.metadata.name));
    const got = placeVM(c.vm, c.hosts, c.placed ?? [], live);
    if ('host' in got) assert.deepEqual({ host: got.host.metadata.name }, c.want);
    else assert.deepEqual(got, c.want);
  });
}

test('placing VMs one by one never goes over capacity and spreads them', () => {
  const hosts = [h1, h2, h3];
  const live = new Set(['h1', 'h2', 'h3']);
  const placed: StoredVM[] = [];
  for (let i = 0; i < 7; i++) {
    const vm = storedVM(`vm${i}`);
    const got = placeVM(vm, hosts, placed, live);
    if (i === 6) {
      assert.ok('reason' in got, 'the seventh VM finds no CPU left');
      break;
    }
    assert.ok('host' in got, `vm${i} is placed`);
    vm.status.host = got.host.metadata.name;
    placed.push(vm);
  }
  for (const h of hosts) {
    const alloc = hostAllocation(h.metadata.name, placed);
    assert.equal(alloc.vms, 2);
    assert.ok(alloc.cpus <= h.spec.capacity.cpus);
    assert.ok(alloc.memoryBytes <= h.spec.capacity.memory.bytes);
  }
});

test('hostStatusText: Ready, NotReady, Ready,SchedulingDisabled', () => {
  const live = new Set(['h1', 'h2']);
  assert.equal(hostStatusText(h1, live), 'Ready');
  assert.equal(
    hostStatusText(storedHost('h2', { unschedulable: true }), live),
    'Ready,SchedulingDisabled',
  );
  assert.equal(hostStatusText(h3, live), 'NotReady');
  assert.equal(hostStatusText(storedHost('h3', { unschedulable: true }), live), 'NotReady');
});
