import { test } from 'node:test';
import assert from 'node:assert/strict';
import { vmNetworkSuite } from '../../test/suites/vm-network.suite.js';
import { MemoryVMNetwork, subnetHosts } from './memory-vm-network.js';

let next = 0;

vmNetworkSuite('MemoryVMNetwork', () => {
  const subnet = '10.88.0.0/29';
  const network = new MemoryVMNetwork({ subnet });
  return Promise.resolve({
    network,
    mode: 'cni',
    subnet,
    held: (uid) => Promise.resolve(network.held(uid)),
    vanish: (uid) => Promise.resolve(network.vanish(uid)),
    guestLease: (uid) => Promise.resolve(network.grantLease(uid)),
    uid: () => (next++).toString(16).padStart(16, '0'),
    cleanup: () => Promise.resolve(),
  });
});

test('subnetHosts hands out what host-local does: not the network, gateway or broadcast', () => {
  assert.deepEqual(subnetHosts('10.88.0.0/29'), {
    gateway: '10.88.0.1',
    hosts: ['10.88.0.2', '10.88.0.3', '10.88.0.4', '10.88.0.5', '10.88.0.6'],
    prefix: 29,
  });
  assert.equal(subnetHosts('10.1.2.200/24').hosts.length, 253);
  assert.equal(subnetHosts('10.1.2.200/24').gateway, '10.1.2.1');
  assert.equal(subnetHosts('192.168.8.0/30').hosts.join(' '), '192.168.8.2');
  for (const bad of ['10.0.0.0', '10.0.0.0/31', '10.0.0.256/24', '10.0.0.0/8', 'a.b.c.d/24'])
    assert.throws(() => subnetHosts(bad), /expected an IPv4 subnet/, bad);
});

test('MemoryVMNetwork counts the leases its guests were granted, until detach', async () => {
  const network = new MemoryVMNetwork();
  const vm = { uid: '00000000000000aa', name: 'a', mode: 'cni' as const };
  assert.throws(() => network.grantLease(vm.uid), /not attached/);
  await network.attach({ ...vm, ports: [] });
  assert.equal(network.grantLease(vm.uid), '10.88.0.2');
  network.grantLease(vm.uid);
  assert.equal(await network.leases(vm.uid), 2);
  await network.attach({ ...vm, ports: [] });
  assert.equal(await network.leases(vm.uid), 0, 'a new attachment has a new server');
});
