import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createVM } from '../../src/operations/create-vm.js';
import { removeVM } from '../../src/operations/remove-vm.js';
import { startVM } from '../../src/operations/start-vm.js';
import { stopVM } from '../../src/operations/stop-vm.js';
import { fakeServices } from './fake-services.js';

test('create, start, stop and rm run in process on memory storage and fakes', async () => {
  const { services: s, processes, network, runtimeFiles, rootDisks } = fakeServices();
  // The supervisor: records the VM Running once started, as ignite-spawn does.
  processes.onSpawn = ({ args, process: p }) => {
    const uid = args[1] ?? '';
    void s.client.vms.update(uid, (v) => {
      v.status = { ...v.status, state: 'Running', runtime: { spawnPid: p.pid, pid: p.pid + 1 } };
    });
  };

  const created = await createVM(s, { image: 'busybox', name: 'web', networkMode: 'none' });
  assert.equal(created.metadata.name, 'web');
  assert.equal(created.status.state, 'Created');
  assert.equal(rootDisks.created[0]?.format, 'qcow2');
  assert.equal(rootDisks.created[0]?.vmDir, `/data/vm/${created.metadata.uid}`);

  const started = await startVM(s, 'web', { timeoutMs: 5000 });
  assert.equal(started.status.state, 'Running');
  const spawn = processes.spawned[0];
  assert.deepEqual(spawn?.args, [
    'ignite-spawn.js',
    created.metadata.uid,
    '--data-dir',
    '/data',
    '--log-level',
    'info',
  ]);
  assert.equal(spawn?.options.logFile, `/data/vm/${created.metadata.uid}/spawn.log`);

  const stopped = await stopVM(s, 'web', { timeoutMs: 1000 });
  assert.equal(stopped.status.state, 'Stopped');
  assert.deepEqual(spawn?.process.received, ['SIGTERM']);
  assert.deepEqual(runtimeFiles.runFilesRemoved, [created.metadata.uid]);

  assert.equal(await removeVM(s, 'web'), created.metadata.uid);
  assert.equal(await s.client.vms.tryFind('web'), undefined);
  assert.deepEqual(network.calls, [
    `reserve ${created.metadata.uid}`,
    `detach ${created.metadata.uid}`,
    'sweep',
    'sweep',
    `release ${created.metadata.uid}`,
  ]);
});

test('a VM on a network needs root; a missing root disk stops a start', async () => {
  const user = fakeServices({ host: { ...fakeServices().services.host, isRoot: false } });
  await assert.rejects(createVM(user.services, { image: 'busybox', name: 'web' }), /needs root/);
  const { services: s, runtimeFiles } = fakeServices();
  const vm = await createVM(s, { image: 'busybox', name: 'db', networkMode: 'none' });
  runtimeFiles.rootDisks.delete(vm.metadata.uid);
  await assert.rejects(startVM(s, 'db'), /its root disk is missing/);
});
