import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { fakeHostFacts } from '../../test/fakes/fake-host-facts.js';
import { fleetHostOptions, type FleetHostFlags } from './fleet-host.js';

const FLAGS: FleetHostFlags = { hostLabel: [], leaseTtl: '5', rescheduleGrace: '5' };
const CTX = { sharedStore: true, host: fakeHostFacts(), listen: 'unix:///run/h1/ignited.sock' };

test('fleetHostOptions: no host name, no agent; defaults from the machine and the first listen address', () => {
  assert.equal(fleetHostOptions(undefined, FLAGS, { ...CTX, sharedStore: false }), undefined);
  const o = fleetHostOptions('h1', FLAGS, CTX);
  assert.deepEqual(
    { ...o, capacity: { cpus: o?.capacity.cpus, memory: o?.capacity.memory.bytes } },
    {
      name: 'h1',
      labels: {},
      address: 'unix:///run/h1/ignited.sock',
      capacity: { cpus: 4, memory: 8 * 1024 ** 3 },
      leaseTTLSeconds: 5,
      graceMs: 5000,
    },
  );
});

test('fleetHostOptions: the flags override the defaults', () => {
  const o = fleetHostOptions(
    'h2.example',
    {
      capacityCpus: '2',
      capacityMemory: '256MB',
      hostLabel: ['zone=a', 'disk=ssd', 'empty='],
      leaseTtl: '10',
      advertiseAddress: 'tcp://10.0.0.2:7450',
      rescheduleGrace: '0',
    },
    CTX,
  );
  assert.equal(o?.capacity.cpus, 2);
  assert.equal(o?.capacity.memory.toString(), '256MB');
  assert.deepEqual(o?.labels, { zone: 'a', disk: 'ssd', empty: '' });
  assert.equal(o?.leaseTTLSeconds, 10);
  assert.equal(o?.address, 'tcp://10.0.0.2:7450');
  assert.equal(o?.graceMs, 0);
});

test('fleetHostOptions: refuses what cannot work, naming the flag', () => {
  const cases: [string, string, Partial<FleetHostFlags>, boolean?][] = [
    ['h1', '--host-name h1: a fleet host needs an etcd store', {}, false],
    ['H_1', '--host-name H_1', {}],
    ['h1', '--lease-ttl 4', { leaseTtl: '4' }],
    ['h1', '--lease-ttl 11', { leaseTtl: '11' }],
    ['h1', '--capacity-cpus 0', { capacityCpus: '0' }],
    ['h1', '--capacity-memory lots', { capacityMemory: 'lots' }],
    ['h1', '--host-label zone', { hostLabel: ['zone'] }],
    ['h1', '--reschedule-grace -1', { rescheduleGrace: '-1' }],
  ];
  for (const [name, message, flags, shared = true] of cases) {
    assert.throws(
      () => fleetHostOptions(name, { ...FLAGS, ...flags }, { ...CTX, sharedStore: shared }),
      (err: unknown) => AppError.is(err, 'InvalidArgument') && err.message.startsWith(message),
      message,
    );
  }
});
