import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostVMDefaults } from '../system/vm-defaults.js';
import { fakeServices } from '../../test/fakes/fake-services.js';
import { buildVM } from './build-vm.js';
import { updateOwnedVM } from './vm-owner.js';

test('updateOwnedVM: writes only while the VM is placed on the writer under its generation', async () => {
  const s = fakeServices();
  const vm = buildVM({ image: 'busybox', name: 'web' }, hostVMDefaults(s.config));
  vm.status = {
    state: 'Created',
    host: 'h1',
    placement: { generation: 2, time: '2026-01-01T00:00:00Z' },
  };
  const uid = (await s.client.vms.create(vm)).metadata.uid;
  const mark = (reason: string) => async (host: string, generation: number | undefined) =>
    updateOwnedVM(s, uid, { host, generation }, (v) => {
      v.metadata.labels = { last: reason };
    });

  assert.notEqual(await mark('owner')('h1', 2), undefined);
  assert.equal(await mark('other host')('h2', 2), undefined);
  assert.equal(await mark('old generation')('h1', 1), undefined);
  assert.deepEqual((await s.client.vms.get(uid)).metadata.labels, { last: 'owner' });
  const plain = await updateOwnedVM(s, uid, undefined, (v) => {
    v.metadata.labels = { last: 'single host' };
  });
  assert.deepEqual(plain?.metadata.labels, { last: 'single host' });
});
