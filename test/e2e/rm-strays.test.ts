import { spawn } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isProcessAlive, waitForExit } from '../../src/system/linux-processes.js';
import { ignite } from '../helpers/cli.js';
import { vmTestEnv } from '../helpers/vm-env.js';

// A `run` or reconciler killed after starting a VM's supervisor but before the VM was recorded
// Running leaves processes its record does not name. rm must end them, not orphan them.
test(
  'rm ends processes of the VM that its record does not know of',
  { timeout: 120_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const created = await ignite(
      ['create', `${t.registry}/ignite-busybox`, '--name', 'stray', '--net', 'none'],
      { env },
    );
    assert.equal(created.code, 0, created.stderr);
    const uid = created.stdout.trim();
    // Stand-ins with the command lines of a supervisor and of a hypervisor of this VM.
    const keepAlive = 'setInterval(() => {}, 1000)';
    const supervisor = spawn(process.execPath, ['-e', keepAlive, uid, '--data-dir', t.dataDir], {
      stdio: 'ignore',
    });
    const hypervisor = spawn(
      process.execPath,
      ['-e', keepAlive, `${t.dataDir}/vm/${uid}/rootfs.qcow2`],
      { stdio: 'ignore' },
    );
    const other = spawn(process.execPath, ['-e', keepAlive, uid], { stdio: 'ignore' });
    try {
      await new Promise((r) => setTimeout(r, 300));
      const rm = await ignite(['rm', 'stray'], { env });
      assert.equal(rm.code, 0, rm.stderr);
      assert.ok(await waitForExit(supervisor.pid ?? 0, 5000), 'the supervisor is ended');
      assert.ok(await waitForExit(hypervisor.pid ?? 0, 5000), 'the hypervisor is ended');
      assert.ok(isProcessAlive(other.pid), 'a process of another data dir is left alone');
    } finally {
      for (const c of [supervisor, hypervisor, other]) c.kill('SIGKILL');
    }
  },
);
