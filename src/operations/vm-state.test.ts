import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeServices } from '../../test/fakes/fake-services.js';
import { recordRunning } from '../../test/fakes/fake-supervisor.js';
import { createVM } from './create-vm.js';
import { refreshVMState } from './vm-state.js';

test('refreshVMState: a VM placed on another fleet host is left as that host recorded it', async () => {
  const s = fakeServices({ env: { IGNITE_HOST_NAME: 'h1' } });
  const placed = await createVM(s, { image: 'busybox', name: 'elsewhere' });
  const local = await createVM(s, { image: 'busybox', name: 'here' });
  for (const [vm, host] of [
    [placed, 'h2'],
    [local, 'h1'],
  ] as const) {
    // A supervisor PID that does not live on this host.
    await recordRunning(s, vm.metadata.uid, { spawnPid: 999_999 });
    await s.client.vms.update(vm.metadata.uid, (v) => {
      v.status.host = host;
    });
  }
  const other = await refreshVMState(s, await s.client.vms.get(placed.metadata.uid));
  assert.equal(other.status.state, 'Running', "h2's record stands");
  assert.equal((await s.client.vms.get(placed.metadata.uid)).status.state, 'Running');
  const mine = await refreshVMState(s, await s.client.vms.get(local.metadata.uid));
  assert.equal(mine.status.state, 'Stopped', 'a VM placed here whose supervisor is gone ended');
});
