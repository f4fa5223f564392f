import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../../helpers/cli.js';
import { backgroundIgnite } from '../../helpers/background-cli.js';
import { freePort } from '../../helpers/registry.js';
import { gitopsTestEnv, vmManifest, type VMJSON } from '../../helpers/git-repo.js';
import { vmTestEnv } from '../../helpers/vm-env.js';

interface PassJSON {
  commit: string;
  decisions: { vm: string; action: string; detail?: string }[];
  invalidFiles: string[];
}

// Real git repositories, a real registry and real VM creation (root disks, no boots): every
// reconcile decision that does not need a running guest.
test(
  'gitops --once: create, identity by uid, labels in place, recreate on spec change, hand-made VMs untouched, invalid files keep their VMs',
  { timeout: 300_000 },
  async () => {
    await using g = await gitopsTestEnv();
    const { t, repo, env, image } = g;
    const reconcileOnce = async (extra: string[] = []) => {
      const r = await ignite(['gitops', repo.url, '--once', '-o', 'json', ...extra], { env });
      return { ...r, pass: r.stdout ? (JSON.parse(r.stdout) as PassJSON) : undefined };
    };
    const vms = g.vms;
    const actions = (p: PassJSON | undefined) =>
      Object.fromEntries((p?.decisions ?? []).map((d) => [d.vm, d.action]));

    // A VM made by hand with the name a manifest will ask for is left alone.
    const byHand = await ignite(['create', image, '--name', 'handmade', '--net', 'none'], { env });
    assert.equal(byHand.code, 0, byHand.stderr);

    const c1 = await repo.commit({
      'vms/web.yaml': vmManifest('web', image, { labels: { tier: 'front' } }),
      'vms/db.yaml': vmManifest('db', image, { uid: '0123456789abcdef' }),
      'vms/handmade.yaml': vmManifest('handmade', image),
      'README.md': '# not a manifest\n',
      '.ci/config.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n',
    });
    const first = await reconcileOnce();
    assert.equal(first.code, 4, 'a conflict with a hand-made VM fails the pass (AlreadyExists)');
    assert.equal(first.pass?.commit, c1);
    assert.deepEqual(actions(first.pass), { web: 'created', db: 'created', handmade: 'failed' });
    assert.match(first.stderr, /vm "handmade": exists and was not created from file:\/\//);
    assert.match(first.stderr, /"msg":"vm \\"web\\": created/);
    let all = await vms();
    assert.deepEqual(all.map((v) => v.metadata.name).sort(), ['db', 'handmade', 'web']);
    const db = all.find((v) => v.metadata.name === 'db');
    assert.equal(db?.metadata.uid, '0123456789abcdef', "the manifest's uid is kept");
    assert.equal(db?.status.state, 'Created', 'Stopped means created, not running');
    const handmade = all.find((v) => v.metadata.name === 'handmade');
    assert.equal(handmade?.metadata.annotations?.['ignite.weave.works/managed-by'], undefined);

    // The same commit again changes nothing (a restarted reconciler).
    await repo.commit({ 'vms/handmade.yaml': undefined });
    const again = await reconcileOnce();
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(again.pass?.decisions, [], 'nothing to do');

    // Labels change in place (same UID); a uid-identified VM may be renamed (recreated);
    // a spec change recreates.
    const webUID = all.find((v) => v.metadata.name === 'web')?.metadata.uid;
    await repo.commit({
      'vms/web.yaml': vmManifest('web', image, { labels: { tier: 'back', team: 'x' } }),
      'vms/db.yaml': vmManifest('db', image, { uid: '0123456789abcdef', memory: '256MB' }),
    });
    const third = await reconcileOnce();
    assert.equal(third.code, 0, third.stderr);
    assert.deepEqual(actions(third.pass), { web: 'updated', db: 'recreated' });
    assert.match(
      third.pass?.decisions.find((d) => d.vm === 'db')?.detail ?? '',
      /spec\.memory changed/,
    );
    all = await vms();
    const web = all.find((v) => v.metadata.name === 'web');
    assert.equal(web?.metadata.uid, webUID, 'labels change in place');
    assert.deepEqual(web?.metadata.labels, { tier: 'back', team: 'x' });
    assert.equal(all.find((v) => v.metadata.name === 'db')?.metadata.uid, '0123456789abcdef');

    // A broken manifest: the error names the file and the field; its VM is kept; others proceed.
    await repo.commit({
      'vms/web.yaml': vmManifest('web', image, { memory: 'lots' }),
      'vms/cache.yaml': vmManifest('cache', image),
    });
    const broken = await reconcileOnce();
    assert.equal(broken.code, 2, 'an invalid manifest fails --once (InvalidArgument)');
    assert.match(broken.stderr, /manifest vms\/web\.yaml: invalid: \.spec\.memory: /);
    assert.deepEqual(broken.pass?.invalidFiles, ['vms/web.yaml']);
    assert.deepEqual(actions(broken.pass), { web: 'kept', cache: 'created' });
    all = await vms();
    assert.equal(all.find((v) => v.metadata.name === 'web')?.metadata.uid, webUID);

    // Removing manifests deletes exactly the VMs made from them.
    await repo.commit({
      'vms/web.yaml': undefined,
      'vms/db.yaml': undefined,
      'vms/cache.yaml': undefined,
    });
    const removed = await reconcileOnce();
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(actions(removed.pass), { web: 'deleted', db: 'deleted', cache: 'deleted' });
    assert.deepEqual(
      (await vms()).map((v) => v.metadata.name),
      ['handmade'],
    );
    assert.deepEqual(await readdir(join(t.dataDir, 'vm')), [handmade?.metadata.uid]);
  },
);

test('gitops: an unreachable remote is an Unavailable error naming it, and nothing changes', async () => {
  await using t = await vmTestEnv([]);
  const r = await ignite(['gitops', 'file:///nonexistent/repo.git', '--once'], { env: t.env });
  assert.equal(r.code, 7, r.stderr);
  assert.match(r.stderr, /gitops: file:\/\/\/nonexistent\/repo\.git \(main\): fetch failed/);
  const bad = await ignite(['gitops', '--upload-pack=touch /tmp/x', '--once'], { env: t.env });
  assert.notEqual(bad.code, 0);
  const branch = await ignite(['gitops', 'file:///x', '--branch', '-x', '--once'], { env: t.env });
  assert.equal(branch.code, 2);
});

test(
  'gitops over git daemon: an unreachable remote keeps the state and is retried with backoff',
  { timeout: 300_000 },
  async () => {
    await using g = await gitopsTestEnv();
    const { repo, env, image } = g;
    const port = await freePort();
    const serve = () =>
      spawn(
        'git',
        [
          'daemon',
          '--export-all',
          '--reuseaddr',
          '--listen=127.0.0.1',
          `--port=${port}`,
          `--base-path=${dirname(repo.bare)}`,
        ],
        { stdio: 'ignore' },
      );
    let gitd = serve();
    const url = `git://127.0.0.1:${port}/${basename(repo.bare)}`;
    try {
      await repo.commit({ 'one.yaml': vmManifest('one', image) });
      await using daemon = backgroundIgnite(['gitops', url, '--interval', '1s'], env);
      let at = await daemon.waitFor(/"msg":"vm \\"one\\": created/, 120_000);

      gitd.kill('SIGTERM');
      await once(gitd, 'exit');
      await repo.commit({ 'one.yaml': undefined });
      at = await daemon.waitFor(/fetch failed.*retrying in 1 s/, 30_000, at);
      at = await daemon.waitFor(/fetch failed.*retrying in 2 s/, 30_000, at);
      at = await daemon.waitFor(/fetch failed.*retrying in 4 s/, 30_000, at);
      const kept = JSON.parse(
        (await ignite(['ps', '-a', '-o', 'json'], { env })).stdout,
      ) as VMJSON[];
      assert.deepEqual(
        kept.map((v) => v.metadata.name),
        ['one'],
        'the current state is kept',
      );

      gitd = serve();
      await daemon.waitFor(/"msg":"vm \\"one\\": deleted/, 60_000, at);
      const after = JSON.parse(
        (await ignite(['ps', '-a', '-o', 'json'], { env })).stdout,
      ) as VMJSON[];
      assert.deepEqual(after, []);
    } finally {
      gitd.kill('SIGTERM');
    }
  },
);
