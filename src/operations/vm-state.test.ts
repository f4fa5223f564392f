import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeServices } from '../../test/fakes/fake-services.js';
import { recordRunning } from '../../test/fakes/fake-supervisor.js';
import { createVM } from './create-vm.js';
import { refreshVMState, refreshVMStates } from './vm-state.js';

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

test('refreshVMStates: a VM recorded not running whose supervisor runs it is Running again; only VMs that may have a run record are looked at', async () => {
  const s = fakeServices();
  const adopted = await createVM(s, { image: 'busybox', name: 'adopted' });
  await createVM(s, { image: 'busybox', name: 'plain' });
  const gone = await createVM(s, { image: 'busybox', name: 'gone' });
  const spawn = s.processes.add(['ignite-spawn', '--supervise-host']);
  await s.runtimeFiles.markSupervised(adopted.metadata.uid, spawn.pid);
  await s.runtimeFiles.writeRunRecord(adopted.metadata.uid, {
    state: 'Running',
    runtime: { vmm: 'qemu', spawnPid: spawn.pid },
  });
  // Recorded Running, its supervisor dead: checked whatever the run dir says.
  await recordRunning(s, gone.metadata.uid, { spawnPid: 999_999 });
  const asked: string[] = [];
  const read = s.runtimeFiles.readRunRecord.bind(s.runtimeFiles);
  s.runtimeFiles.readRunRecord = (uid) => {
    asked.push(uid);
    return read(uid);
  };
  const byName = new Map(
    (await refreshVMStates(s, await s.client.vms.list())).map((v) => [v.metadata.name, v]),
  );
  assert.equal(byName.get('adopted')?.status.state, 'Running');
  assert.equal(byName.get('adopted')?.status.runtime?.spawnPid, spawn.pid);
  assert.equal(byName.get('plain')?.status.state, 'Created');
  assert.equal(byName.get('gone')?.status.state, 'Stopped', 'its supervisor is gone');
  assert.deepEqual(asked, [adopted.metadata.uid], 'no look for a VM without a run record');
  assert.equal((await s.client.vms.get(adopted.metadata.uid)).status.state, 'Running');
});
