import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { throughDaemon } from '../helpers/cli-mode.js';
import { backgroundIgnite } from '../helpers/background-cli.js';
import { gitopsTestEnv, vmManifest, type VMJSON } from '../helpers/git-repo.js';
import { freePort } from '../helpers/registry.js';

const INTERVAL_S = 5;
const pexec = promisify(execFile);

// The acceptance scenario with real TCG boots: a gitops daemon follows a real bare repository.
test(
  'gitops daemon: two manifests boot two VMs within one interval; delete and relabel; a broken manifest keeps VMs running; SIGTERM leaves them; a restart changes nothing',
  { timeout: 900_000 },
  async () => {
    await using g = await gitopsTestEnv();
    const { repo, env, image } = g;
    const vms = g.vms;
    const byName = async (name: string) => (await vms()).find((v) => v.metadata.name === name);
    const metricsPort = await freePort();

    await repo.commit({ 'README.md': '# VMs of this host\n' }, 'empty');
    await using daemon = backgroundIgnite(
      [
        'gitops',
        repo.url,
        '--interval',
        `${INTERVAL_S}s`,
        '--metrics-listen',
        `127.0.0.1:${metricsPort}`,
      ],
      env,
    );
    let at = await daemon.waitFor(/gitops: commit [0-9a-f]{12} reconciled/, 60_000);

    // 1. Two manifests: both created and running, the pass starting within one interval.
    const pushed = Date.now();
    const c2 = await repo.commit({
      'vms/web.yaml': vmManifest('web', image, { state: 'Running', labels: { tier: 'front' } }),
      'vms/db.yaml': vmManifest('db', image, { state: 'Running' }),
    });
    at = await daemon.waitFor(
      new RegExp(`gitops: reconciling commit ${c2.slice(0, 12)}`),
      60_000,
      at,
    );
    const noticedAfterMs = Date.now() - pushed;
    assert.ok(
      noticedAfterMs <= (INTERVAL_S + 2) * 1000,
      `the new commit was picked up ${noticedAfterMs} ms after the push`,
    );
    at = await daemon.waitFor(new RegExp(`commit ${c2.slice(0, 12)} reconciled`), 300_000, at);
    assert.match(daemon.log(), /"msg":"vm \\"web\\": created/);
    assert.match(daemon.log(), /"msg":"vm \\"db\\": created/);
    for (const name of ['web', 'db']) {
      const vm = await byName(name);
      assert.equal(vm?.status.state, 'Running', `${name} runs`);
      assert.equal(vm?.metadata.annotations?.['ignite.weave.works/managed-by'], 'gitops');
    }
    const web = await byName('web');
    const webSpawn = web?.status.runtime?.spawnPid;
    const webStart = web?.status.startTime;

    // 2. Delete one manifest and relabel the other: db stops and goes; web is updated in place.
    const c3 = await repo.commit({
      'vms/db.yaml': undefined,
      'vms/web.yaml': vmManifest('web', image, { state: 'Running', labels: { tier: 'back' } }),
    });
    at = await daemon.waitFor(new RegExp(`commit ${c3.slice(0, 12)} reconciled`), 120_000, at);
    assert.match(daemon.log(), /"msg":"vm \\"db\\": deleted/);
    assert.match(daemon.log(), /"msg":"vm \\"web\\": updated \(labels\)/);
    assert.equal(await byName('db'), undefined, 'db is removed');
    const relabelled = await byName('web');
    assert.deepEqual(relabelled?.metadata.labels, { tier: 'back' });
    assert.equal(relabelled?.status.state, 'Running');
    assert.equal(relabelled?.status.runtime?.spawnPid, webSpawn, 'no reboot: same supervisor');
    assert.equal(relabelled?.status.startTime, webStart, 'no reboot: same start time');

    // 3. A broken manifest: the error names the file and the field; web keeps running.
    const c4 = await repo.commit({
      'vms/web.yaml': vmManifest('web', image, {
        state: 'Running',
        labels: { tier: 'back' },
        memory: 'lots',
      }),
    });
    await daemon.waitFor(new RegExp(`commit ${c4.slice(0, 12)} reconciled`), 60_000, at);
    assert.match(daemon.log(), /manifest vms\/web\.yaml: invalid: \.spec\.memory: /);
    assert.match(
      daemon.log(),
      /"msg":"vm \\"web\\": kept \(its manifest vms\/web\.yaml is invalid\)/,
    );
    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    assert.match(metrics, /^ignite_gitops_invalid_manifests_total 1$/m);
    assert.match(metrics, /^ignite_gitops_reconciles_total [1-9]/m);
    const kept = await byName('web');
    assert.equal(kept?.status.state, 'Running');
    assert.equal(kept?.status.runtime?.spawnPid, webSpawn);

    // 4. SIGTERM ends the loop cleanly and leaves the VMs as they are.
    daemon.child.kill('SIGTERM');
    assert.equal(await daemon.exited(), 0, daemon.log().slice(-2000));
    assert.match(daemon.log(), /gitops: stopped; VMs are left as they are/);
    assert.equal((await byName('web'))?.status.runtime?.spawnPid, webSpawn);

    // 5. Fixed again, a restarted reconciler finds nothing to do.
    await repo.commit({
      'vms/web.yaml': vmManifest('web', image, { state: 'Running', labels: { tier: 'back' } }),
    });
    const restart = await ignite(['gitops', repo.url, '--once', '-o', 'json'], { env });
    assert.equal(restart.code, 0, restart.stderr);
    assert.deepEqual((JSON.parse(restart.stdout) as { decisions: unknown[] }).decisions, []);
    assert.equal((await byName('web'))?.status.runtime?.spawnPid, webSpawn);

    assert.equal((await ignite(['rm', '-f', 'web'], { env })).code, 0);
  },
);

// Run on the data dir only: the kills stop the reconciler in the middle of its own work, which
// through a daemon is the daemon's, and goes on without it.
if (!throughDaemon())
  test(
    'gitops: a reconciler killed mid-reconcile and restarted converges with no duplicate VMs',
    { timeout: 600_000 },
    async () => {
      await using g = await gitopsTestEnv();
      const { t, repo, env, image } = g;
      await repo.commit({
        'a.yaml': vmManifest('a', image, { state: 'Running' }),
        'b.yaml': vmManifest('b', image),
        'c.yaml': vmManifest('c', image),
      });
      // Killed while it pulls the image, while it builds a root disk (qemu-storage-daemon and its
      // FUSE view are up), and while a VM's supervisor starts: each time some VM is half made.
      const staging = join(t.dataDir, '.staging');
      const vmDir = join(t.dataDir, 'vm');
      const halfImported = async () => (await readdir(staging).catch(() => [])).length > 0;
      const halfDisk = async () => {
        for (const uid of await readdir(vmDir).catch(() => [])) {
          const files = await readdir(join(vmDir, uid)).catch((): string[] => []);
          if (files.some((f) => f.endsWith('.partial'))) return true;
        }
        return false;
      };
      const halfStarted = async () => {
        for (const uid of await readdir(vmDir).catch(() => [])) {
          const files = await readdir(join(vmDir, uid)).catch((): string[] => []);
          if (files.includes('spawn.log')) return true;
        }
        return false;
      };
      for (const midWork of [halfImported, halfDisk, halfStarted]) {
        await using daemon = backgroundIgnite(['gitops', repo.url, '--interval', '1s'], env);
        const deadline = Date.now() + 120_000;
        while (!(await midWork())) {
          assert.ok(Date.now() < deadline, `never caught mid-work:\n${daemon.log().slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 5));
        }
        daemon.child.kill('SIGKILL');
        await daemon.exited();
      }
      const converge = await ignite(['gitops', repo.url, '--once', '-o', 'json'], {
        env,
        timeoutMs: 300_000,
      });
      assert.equal(converge.code, 0, converge.stderr);
      const work = (JSON.parse(converge.stdout) as { decisions: unknown[] }).decisions;
      assert.ok(work.length > 0, 'the kills left work for the restart to finish');
      const again = await ignite(['gitops', repo.url, '--once', '-o', 'json'], { env });
      assert.deepEqual((JSON.parse(again.stdout) as { decisions: unknown[] }).decisions, []);

      const all = JSON.parse(
        (await ignite(['ps', '-a', '-o', 'json'], { env })).stdout,
      ) as VMJSON[];
      assert.deepEqual(all.map((v) => v.metadata.name).sort(), ['a', 'b', 'c'], 'no duplicates');
      const state = Object.fromEntries(all.map((v) => [v.metadata.name, v.status.state]));
      assert.deepEqual(state, { a: 'Running', b: 'Created', c: 'Created' });
      for (const v of all)
        assert.match(
          v.metadata.annotations?.['ignite.weave.works/gitops-spec-hash'] ?? '',
          /^[0-9a-f]{32}$/,
        );
      const dirs = (await readdir(join(t.dataDir, 'vm'))).sort();
      assert.deepEqual(dirs, all.map((v) => v.metadata.uid).sort(), 'no VM directory left over');
      assert.deepEqual(await readdir(staging).catch(() => []), [], 'no half-imported image left');
      const mounts = await readFile('/proc/self/mounts', 'utf8');
      assert.ok(!mounts.includes(t.dataDir), `no mount left under the data dir:\n${mounts}`);
      const daemons = await pexec('pgrep', ['-f', `qemu-storage-daemon.*${t.dataDir}`]).catch(
        () => ({
          stdout: '',
        }),
      );
      assert.equal(daemons.stdout, '', 'no qemu-storage-daemon left');
      const running = all.filter((v) => v.status.state === 'Running').length;
      // A tool a killed reconciler had started on a disk (debugfs, resize2fs) may still be finishing
      // on its own; what must hold once it has is one hypervisor per running VM and nothing else.
      const vmProcs = async () =>
        (await pexec('pgrep', ['-af', `${t.dataDir}/vm/`]).catch(() => ({ stdout: '' }))).stdout
          .trim()
          .split('\n')
          .filter(Boolean);
      let procs = await vmProcs();
      for (let i = 0; i < 150 && procs.length !== running; i++) {
        await new Promise((r) => setTimeout(r, 100));
        procs = await vmProcs();
      }
      assert.equal(
        procs.length,
        running,
        `one hypervisor per running VM, no process of a removed VM:\n${procs.join('\n')}`,
      );

      for (const name of ['a', 'b', 'c'])
        assert.equal((await ignite(['rm', '-f', name], { env })).code, 0);
    },
  );
