import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newFsClient } from '../../src/storage/index.js';
import { isProcessAlive } from '../../src/system/linux-processes.js';
import { ignite } from '../helpers/cli.js';
import { tempDataDir } from '../helpers/data-dir.js';
import { vm } from '../helpers/objects.js';

/** A process that is still running, started by `argv`, killed at the end of the test. */
function live(argv: string[]): ChildProcess & Disposable {
  const [bin = '', ...args] = argv;
  const child = spawn(bin, args, { stdio: 'ignore' });
  return Object.assign(child, { [Symbol.dispose]: () => void child.kill('SIGKILL') });
}

const SUPERVISOR_THAT_HANGS =
  "process.on('SIGTERM', () => {}); process.on('SIGQUIT', () => {}); setInterval(() => {}, 1000);";

// A stored VM whose PIDs were reused: `stop` and `kill` signal only processes that carry the
// VM's UID in their command line, as `ps` decides liveness, so an unrelated process survives.
test(
  'stop and kill never signal a process whose PID matches a stale record but whose identity does not',
  { timeout: 90_000 },
  async () => {
    await using dir = await tempDataDir();
    const env = { IGNITE_DATA_DIR: dir.path };
    const client = newFsClient(dir.path);
    using bystander = live(['sleep', '600']);
    using other = live(['sleep', '601']);
    const create = async (name: string) => (await client.vms.create(vm(name))).metadata.uid ?? '';
    /** Records the VM Running under these PIDs, as its supervisor would have. */
    const recordRunning = (uid: string, spawnPid: number, pid: number) =>
      client.vms.update(uid, (v) => {
        v.status = { state: 'Running', runtime: { vmm: 'qemu', spawnPid, pid } };
      });
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(bystander.pid !== undefined && other.pid !== undefined);

    // Both PIDs went to unrelated processes.
    await recordRunning(await create('reused'), other.pid, bystander.pid);
    for (const verb of ['stop', 'kill']) {
      const r = await ignite([verb, 'reused'], { env });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.ok(isProcessAlive(other.pid), 'the process holding the old supervisor PID survives');
    assert.ok(isProcessAlive(bystander.pid), 'the process holding the old hypervisor PID survives');

    // An earlier version's supervisor, really this VM's alone (its UID in its argv), hangs; its
    // hypervisor's PID was reused. kill ends the supervisor and leaves the other process alone.
    const uid = await create('stuck');
    using supervisor = live([process.execPath, '-e', SUPERVISOR_THAT_HANGS, 'ignite-spawn', uid]);
    await new Promise((r) => setTimeout(r, 300));
    await recordRunning(uid, supervisor.pid ?? 0, bystander.pid);
    const k = await ignite(['kill', 'stuck'], { env, timeoutMs: 60_000 });
    assert.equal(k.code, 0, k.stderr);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(isProcessAlive(supervisor.pid, uid), false, 'the stuck supervisor was killed');
    assert.ok(isProcessAlive(bystander.pid), 'the unrelated process with the hypervisor PID lives');
    const after = await client.vms.get(uid);
    assert.equal(after.status?.state, 'Stopped');

    // The host supervisor marked as this VM's hangs, and the hypervisor's PID was reused: kill
    // takes the run from it and leaves both processes alone (the supervisor runs other VMs).
    const hostUID = await create('stuck-host');
    using host = live([process.execPath, '-e', SUPERVISOR_THAT_HANGS, '--', '--supervise-host']);
    await new Promise((r) => setTimeout(r, 300));
    await writeFile(join(dir.path, 'vm', hostUID, 'supervised-by'), `${host.pid ?? 0}\n`);
    await recordRunning(hostUID, host.pid ?? 0, bystander.pid);
    const hk = await ignite(['kill', 'stuck-host'], { env, timeoutMs: 60_000 });
    assert.equal(hk.code, 0, hk.stderr);
    assert.ok(isProcessAlive(host.pid, '--supervise-host'), 'the host supervisor is not killed');
    assert.ok(isProcessAlive(bystander.pid), 'the unrelated process with the hypervisor PID lives');
    const taken = await client.vms.get(hostUID);
    assert.equal(taken.status?.state, 'Stopped');
    assert.equal(taken.status?.lastExit?.reason, 'Killed');
  },
);
