import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVM } from '../../src/operations/create-vm.js';
import { removeVM } from '../../src/operations/remove-vm.js';
import { startVM } from '../../src/operations/start-vm.js';
import { stopVM } from '../../src/operations/stop-vm.js';
import {
  DATA_DIR,
  fakeServices,
  HOST_SUPERVISOR_ARGS,
  HOST_SUPERVISOR_LOG,
} from './fake-services.js';
import { installSupervisor } from './fake-supervisor.js';

test('create, start, stop and rm run in process on memory storage and fakes', async () => {
  const s = fakeServices();
  const { processes, network, runtimeFiles, rootDisks } = s;
  installSupervisor(s, { kind: 'supervises' });

  const created = await createVM(s, { image: 'busybox', name: 'web', networkMode: 'none' });
  assert.equal(created.metadata.name, 'web');
  assert.equal(created.status.state, 'Created');
  assert.equal(rootDisks.requests[0]?.format, 'qcow2');
  assert.equal(rootDisks.requests[0]?.vmDir, `${DATA_DIR}/vm/${created.metadata.uid}`);

  const started = await startVM(s, 'web', { timeoutMs: 5000 });
  assert.equal(started.status.state, 'Running');
  const spawn = processes.spawned[0];
  assert.deepEqual(spawn?.args, HOST_SUPERVISOR_ARGS);
  assert.equal(spawn?.options.logFile, HOST_SUPERVISOR_LOG);

  const stopped = await stopVM(s, 'web', { timeoutMs: 1000 });
  assert.equal(stopped.status.state, 'Stopped');
  assert.deepEqual(spawn?.process.received, [], 'asked on its socket, not signalled');
  assert.deepEqual(runtimeFiles.runFilesRemoved, [created.metadata.uid]);

  assert.equal(await removeVM(s, 'web'), created.metadata.uid);
  assert.equal(await s.client.vms.tryFind('web'), undefined);
  assert.deepEqual(
    network.calls.map((c) => (c.uid === undefined ? c.op : `${c.op} ${c.uid}`)),
    [
      `reserve ${created.metadata.uid}`,
      `attach ${created.metadata.uid}`,
      `detach ${created.metadata.uid}`,
      'sweep',
      `release ${created.metadata.uid}`,
    ],
  );
});

test('a VM on a network needs root; a missing root disk stops a start', async () => {
  const user = fakeServices({ host: { isRoot: false } });
  await assert.rejects(createVM(user, { image: 'busybox', name: 'web' }), /needs root/);
  const s = fakeServices();
  const { runtimeFiles } = s;
  const vm = await createVM(s, { image: 'busybox', name: 'db', networkMode: 'none' });
  runtimeFiles.rootDisks.delete(vm.metadata.uid);
  await assert.rejects(startVM(s, 'db'), /its root disk is missing/);
});
