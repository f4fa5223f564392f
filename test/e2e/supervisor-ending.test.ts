import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitForExit } from '../../src/system/linux-processes.js';
import { ignite } from '../helpers/cli.js';
import { waitForBusyboxInit } from '../helpers/console.js';
import { vmTestEnv } from '../helpers/vm-env.js';

interface VMJSON {
  metadata: { name: string };
  status: { state: string; runtime?: { spawnPid: number } };
}

// A supervisor told to end (SIGTERM) stops its VMs first, answering meanwhile. A `run` in that
// time waits for it to be gone and starts its VM under a new one, instead of failing.
test(
  'a host supervisor starts without unneeded extra CAs; a run while it ends starts its VM under a new one',
  { timeout: 300_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const image = `${t.registry}/ignite-busybox`;
    const vms = async () =>
      JSON.parse((await ignite(['ps', '-a', '-o', 'json'], { env })).stdout) as VMJSON[];
    try {
      const first = await ignite(['run', image, '--name', 'first', '--net', 'none'], {
        env: { ...env, NODE_EXTRA_CA_CERTS: '/etc/ssl/certs/ca-certificates.crt' },
      });
      assert.equal(first.code, 0, first.stderr);
      await waitForBusyboxInit(t.dataDir, first.stdout);
      const old = (await vms()).find((v) => v.metadata.name === 'first')?.status.runtime?.spawnPid;
      assert.ok(old !== undefined, 'the first VM has a supervisor');
      // On a local store it makes no TLS connection, and starts without its starter's extra CAs.
      const environ = (await readFile(`/proc/${old}/environ`, 'utf8')).split('\0');
      assert.ok(environ.includes(`IGNITE_DATA_DIR=${t.dataDir}`), "its starter's environment");
      assert.ok(!environ.some((e) => e.startsWith('NODE_EXTRA_CA_CERTS=')));

      process.kill(old, 'SIGTERM');
      const second = await ignite(['run', image, '--name', 'second', '--net', 'none'], { env });
      assert.equal(second.code, 0, second.stderr);
      await waitForBusyboxInit(t.dataDir, second.stdout);
      assert.ok(await waitForExit(old, 30_000), 'the old supervisor ended');
      const now = await vms();
      assert.equal(now.find((v) => v.metadata.name === 'first')?.status.state, 'Stopped');
      const later = now.find((v) => v.metadata.name === 'second');
      assert.equal(later?.status.state, 'Running');
      assert.notEqual(later?.status.runtime?.spawnPid, old);
    } finally {
      await ignite(['rm', '-f', 'first', 'second'], { env });
    }
  },
);
