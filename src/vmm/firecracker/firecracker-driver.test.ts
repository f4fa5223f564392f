import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firecrackerBootArgs } from './firecracker-driver.js';

test('firecrackerBootArgs: a serial console unless one is named; ip= only with a NIC', () => {
  const spec = 'reboot=k panic=1 pci=off ip=dhcp';
  assert.equal(firecrackerBootArgs(spec, 1), `${spec} console=ttyS0`);
  assert.equal(firecrackerBootArgs(spec, 0), 'reboot=k panic=1 pci=off console=ttyS0');
  assert.equal(firecrackerBootArgs('console=hvc0  ip=dhcp', 2), 'console=hvc0 ip=:::::eth0:dhcp');
  assert.equal(firecrackerBootArgs('', 0), 'console=ttyS0');
});
