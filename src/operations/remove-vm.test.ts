import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rejectsWith } from '../../test/fakes/expect.js';
import {
  DATA_DIR,
  fakeServices,
  messages,
  SPAWN_ENTRY,
  type FakeServices,
} from '../../test/fakes/fake-services.js';
import { installSupervisor } from '../../test/fakes/fake-supervisor.js';
import { createVM } from './create-vm.js';
import { removeVM, sweepRunDirs } from './remove-vm.js';
import { startVM } from './start-vm.js';
import { HOST_SUPERVISOR_FLAG, isSupervised } from './supervision.js';
import { stopVM } from './stop-vm.js';

type State = 'Created' | 'Stopped' | 'Running';

/** A VM named web in `state`, run by an in-process supervisor whose guest ignores power-off. */
async function vmIn(state: State): Promise<{ s: FakeServices; uid: string }> {
  const s = fakeServices();
  installSupervisor(s, { kind: 'supervises' });
  s.drivers.qemu.guest = 'ignores';
  const vm = await createVM(s, { image: 'busybox', name: 'web' });
  if (state !== 'Created') await startVM(s, 'web');
  if (state === 'Stopped') await stopVM(s, 'web', { kill: true });
  return { s, uid: vm.metadata.uid };
}

test('removeVM removes the VM with its network, disk and leftovers', async (t) => {
  const cases: { name: string; state: State; force?: boolean; signals: string[] }[] = [
    { name: 'created', state: 'Created', signals: [] },
    { name: 'stopped', state: 'Stopped', signals: [] },
    {
      name: 'running, with force: killed first',
      state: 'Running',
      force: true,
      signals: ['SIGQUIT'],
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const { s, uid } = await vmIn(c.state);
      const spawnPid = (await s.client.vms.get(uid)).status.runtime?.spawnPid;
      const signalsBefore = s.processes.signals.length;
      const callsBefore = s.network.calls.length;
      const requestsBefore = s.requests.sent.length;

      assert.equal(await removeVM(s, 'web', c.force ? { force: true } : {}), uid);

      assert.equal(await s.client.vms.tryFind(uid), undefined, 'VM deleted');
      const sent = s.processes.signals.slice(signalsBefore);
      assert.deepEqual(
        sent.filter((x) => x.pid === spawnPid),
        [],
        'the host supervisor is not signalled',
      );
      assert.deepEqual(
        s.requests.sent
          .slice(requestsBefore)
          .map((x) => x.request as { op: string; signal?: string })
          .filter((r) => r.op === 'signal')
          .map((r) => r.signal),
        c.signals,
        "what the VM's run was told",
      );
      assert.ok(
        [...s.processes.table.values()].every(
          (p) => !p.alive || p.argv.includes(HOST_SUPERVISOR_FLAG),
        ),
        'no process of the VM lives on',
      );
      assert.equal(s.runtimeFiles.supervisedBy(uid), undefined);
      const after = s.network.calls.slice(callsBefore).map((x) => x.op);
      assert.deepEqual(after.slice(-2), ['sweep', 'release'], 'swept, then its network released');
      assert.deepEqual(s.network.held(uid), [], 'nothing of its network kept');
      assert.deepEqual(s.rootDisks.released, [`${DATA_DIR}/vm/${uid}`]);
      assert.ok(messages(s).includes(`Removed VM with name "web" and ID "${uid}"`));
    });
  }
});

test('removeVM refuses a running VM without force, and leaves it running', async () => {
  const { s, uid } = await vmIn('Running');
  const signalsBefore = s.processes.signals.length;
  const err = await rejectsWith(removeVM(s, 'web'), 'FailedPrecondition', /^vm "web": is running$/);
  assert.equal(err.hint, 'stop it first, or use rm -f');
  const vm = await s.client.vms.get(uid);
  assert.equal(vm.status.state, 'Running');
  assert.ok(isSupervised(s, uid, vm.status.runtime?.spawnPid));
  assert.equal(s.processes.signals.length, signalsBefore, 'nothing signalled');
  assert.notDeepEqual(s.network.held(uid), [], 'its network kept');
  assert.deepEqual(s.rootDisks.released, []);
});

test("removeVM ends the VM's processes its record does not know, and only those", async (t) => {
  const cases: { name: string; argv: (uid: string) => string[]; killed: boolean }[] = [
    {
      name: 'a prestarted supervisor of the VM',
      argv: (uid) => ['node', SPAWN_ENTRY, uid, '--data-dir', DATA_DIR, '--wait-signal'],
      killed: true,
    },
    {
      name: 'a supervisor given --data-dir=<dir>',
      argv: (uid) => ['node', SPAWN_ENTRY, uid, `--data-dir=${DATA_DIR}`],
      killed: true,
    },
    {
      name: 'a hypervisor with a file in its directory',
      argv: (uid) => ['qemu-system-x86_64', '-drive', `file=${DATA_DIR}/vm/${uid}/rootfs.qcow2`],
      killed: true,
    },
    {
      name: 'a supervisor of the same UID in another data dir',
      argv: (uid) => ['node', SPAWN_ENTRY, uid, '--data-dir', '/srv/other'],
      killed: false,
    },
    { name: 'an unrelated process', argv: () => ['/usr/sbin/sshd', '-D'], killed: false },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const { s, uid } = await vmIn('Created');
      const p = s.processes.add(c.argv(uid));
      await removeVM(s, 'web');
      assert.deepEqual(p.received, c.killed ? ['SIGKILL'] : []);
      assert.equal(p.alive, !c.killed);
      assert.equal(
        messages(s, 40).includes('vm "web": ending processes left by an interrupted start'),
        c.killed,
      );
    });
  }
});

test('removeVM sweeps the run dirs no live process names, its own and those of dead runs', async () => {
  const { s, uid } = await vmIn('Running');
  assert.ok(s.runtimeFiles.runDirs.has(uid), 'the run made its run dir');
  const dead = 'aaaaaaaaaaaaaaaa';
  const otherDataDir = 'bbbbbbbbbbbbbbbb';
  await s.runtimeFiles.makeRunDir(dead);
  await s.runtimeFiles.makeRunDir(otherDataDir);
  // passt names its socket, in the run dir, by path.
  const passt = s.processes.add(['passt', '--socket', `/run/user/1000/ignite/${otherDataDir}/p`]);
  await removeVM(s, 'web', { force: true });
  assert.deepEqual([...s.runtimeFiles.runDirs], [otherDataDir]);
  assert.ok(passt.alive, 'a live process keeps its dir and is left alone');
  passt.alive = false;
  assert.deepEqual(await sweepRunDirs(s), [otherDataDir]);
  assert.deepEqual(await sweepRunDirs(s), [], 'nothing left to sweep');
});
