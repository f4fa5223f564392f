import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from '../../test/fakes/expect.js';
import { fakeServices } from '../../test/fakes/fake-services.js';
import { createVM } from './create-vm.js';
import { createNetwork, inspectNetwork, removeNetwork } from './networks.js';

test('createNetwork stores the network and ensures it on the host under the data dir', async () => {
  const s = fakeServices();
  const net = await createNetwork(s, { name: 'lab', subnet: '10.70.0.77/24' });
  assert.equal(net.spec.subnet, '10.70.0.0/24');
  assert.equal(net.spec.nat, true);
  assert.equal(net.spec.isolated, false);
  assert.match(net.status.bridge ?? '', /^ignite[a-z0-9]{9}$/);
  assert.equal(net.status.conflist, s.layout.networkConflist('lab'));
  assert.deepEqual([...s.namedNetworks.ensured.keys()], [s.layout.networkConflist('lab')]);
});

test('createNetwork refuses overlaps, bad gateways, bad names and the default name', async () => {
  const s = fakeServices();
  await createNetwork(s, { name: 'lab', subnet: '10.70.0.0/24' });
  await rejectsWith(
    createNetwork(s, { name: 'b', subnet: '10.70.0.128/25' }),
    'InvalidArgument',
    /network "b": subnet 10.70.0.128\/25 overlaps network "lab"/,
  );
  await rejectsWith(
    createNetwork(s, { name: 'c', subnet: '10.61.3.0/24' }),
    'InvalidArgument',
    /overlaps the default network's 10.61.0.0\/16/,
  );
  await rejectsWith(
    createNetwork(s, { name: 'd', subnet: '10.71.0.0/24', gateway: '10.71.1.1' }),
    'InvalidArgument',
    /gateway 10.71.1.1 is not a host address of 10.71.0.0\/24/,
  );
  await rejectsWith(
    createNetwork(s, { name: 'default', subnet: '10.72.0.0/24' }),
    'InvalidArgument',
    /default network/,
  );
  await rejectsWith(
    createNetwork(s, { name: 'Bad!', subnet: '10.72.0.0/24' }),
    'InvalidArgument',
    /network name "Bad!"/,
  );
  await rejectsWith(
    createNetwork(s, { name: 'lab', subnet: '10.73.0.0/24' }),
    'AlreadyExists',
    /network "lab": already exists/,
  );
  assert.equal((await s.client.networks.list()).length, 1);
});

test('removeNetwork is refused while a VM names the network, then removes it', async () => {
  const s = fakeServices();
  await createNetwork(s, { name: 'lab', subnet: '10.70.0.0/24' });
  await createVM(s, { image: 'busybox', name: 'web', networks: [{ name: 'lab' }] });
  const view = await inspectNetwork(s, 'lab');
  assert.deepEqual(
    view.vms.map((v) => [v.name, v.interface]),
    [['web', 'eth0']],
  );
  await rejectsWith(removeNetwork(s, 'lab'), 'FailedPrecondition', /in use by vm "web"/);
  await s.client.vms.delete((await s.client.vms.find('web')).metadata.uid);
  await removeNetwork(s, 'lab');
  assert.deepEqual(s.namedNetworks.removed, ['lab']);
  assert.equal((await s.client.networks.list()).length, 0);
});
