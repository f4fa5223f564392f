import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { gitopsTestEnv, vmManifest } from '../helpers/git-repo.js';

interface PassJSON {
  decisions: { vm: string; action: string; detail?: string; file?: string }[];
  invalidFiles: string[];
}

const actions = (p: PassJSON | undefined) =>
  Object.fromEntries((p?.decisions ?? []).map((d) => [d.vm, d.action]));

// A real repository, a real registry, a real reconcile and one TCG boot: what a repository may
// ask of the host is bounded by the operator's flags, and a refusal touches no other VM.
test(
  'gitops: a manifest copying /etc/shadow or mapping host port 22 is refused with its reason in the log; the valid one is created and started',
  { timeout: 600_000 },
  async () => {
    await using g = await gitopsTestEnv();
    const { repo, env, image } = g;
    const once = async (extra: string[] = []) => {
      const r = await ignite(['gitops', repo.url, '--once', '-o', 'json', ...extra], {
        env,
        timeoutMs: 300_000,
      });
      return { ...r, pass: r.stdout ? (JSON.parse(r.stdout) as PassJSON) : undefined };
    };
    await repo.commit({
      'vms/shadow.yaml': vmManifest('shadow', image, {
        extra: '  copyFiles:\n    - hostPath: /etc/shadow\n      vmPath: /x\n',
      }),
      'vms/sshd.yaml': vmManifest('sshd', image).replace(
        '    mode: none\n',
        '    mode: none\n    ports:\n      - hostPort: 22\n        vmPort: 22\n',
      ),
      'vms/web.yaml': vmManifest('web', image, { state: 'Running' }),
    });
    const first = await once();
    assert.equal(first.code, 6, `refusals fail --once (PermissionDenied)\n${first.stderr}`);
    assert.deepEqual(actions(first.pass), { shadow: 'refused', sshd: 'refused', web: 'created' });
    assert.match(
      first.stderr,
      /"file":"vms\/shadow\.yaml".*vm \\"shadow\\": refused \(manifest vms\/shadow\.yaml: refused: \.spec\.copyFiles\[0\]\.hostPath: \\"\/etc\/shadow\\": host files are not allowed from this source/,
    );
    assert.match(
      first.stderr,
      /vm \\"sshd\\": refused \(manifest vms\/sshd\.yaml: refused: \.spec\.network\.ports\[0\]\.hostPort: host port 22 is outside the allowed range 30000-32767 \(--host-port-range\)/,
    );
    let all = await g.vms();
    assert.deepEqual(
      all.map((v) => [v.metadata.name, v.status.state]),
      [['web', 'Running']],
    );

    // The operator widens the port range: sshd is created; shadow stays refused; web is kept.
    const second = await once(['--host-port-range', '1-65535']);
    assert.equal(second.code, 6, second.stderr);
    assert.deepEqual(actions(second.pass), { shadow: 'refused', sshd: 'created' });

    // A manifest that turns hostile later leaves its VM as it was.
    await repo.commit({
      'vms/sshd.yaml': vmManifest('sshd', image, {
        extra: '  copyFiles:\n    - hostPath: /root/.ssh/id_rsa\n      vmPath: /x\n',
      }),
    });
    const sshdUID = (await g.vms()).find((v) => v.metadata.name === 'sshd')?.metadata.uid;
    const third = await once(['--host-port-range', '1-65535']);
    assert.deepEqual(third.pass?.decisions.map((d) => `${d.vm}: ${d.action}`).sort(), [
      'shadow: refused',
      'sshd: kept',
      'sshd: refused',
    ]);
    assert.ok(third.pass?.invalidFiles.includes('vms/sshd.yaml'));
    all = await g.vms();
    assert.equal(all.find((v) => v.metadata.name === 'sshd')?.metadata.uid, sshdUID, 'sshd kept');
    assert.equal(all.find((v) => v.metadata.name === 'web')?.status.state, 'Running');
    for (const name of ['web', 'sshd'])
      assert.equal((await ignite(['rm', '-f', name], { env })).code, 0);
  },
);

test('gitops --allow-host-path DIR: a file inside DIR is allowed; a symlink inside DIR to a file outside is refused', async () => {
  await using g = await gitopsTestEnv();
  const { repo, env, image } = g;
  const root = await mkdtemp(join(tmpdir(), 'ignite-allowed-'));
  try {
    const allowed = join(root, 'files');
    await mkdir(allowed);
    await writeFile(join(allowed, 'motd'), 'from the host\n');
    await writeFile(join(root, 'secret'), 'outside\n');
    await symlink(join(root, 'secret'), join(allowed, 'escape'));
    await repo.commit({
      'ok.yaml': vmManifest('ok', image, {
        extra: `  copyFiles:\n    - hostPath: ${allowed}/motd\n      vmPath: /etc/motd\n`,
      }),
      'escape.yaml': vmManifest('escape', image, {
        extra: `  copyFiles:\n    - hostPath: ${allowed}/escape\n      vmPath: /etc/motd\n`,
      }),
      'dotdot.yaml': vmManifest('dotdot', image, {
        extra: `  copyFiles:\n    - hostPath: ${allowed}/../secret\n      vmPath: /etc/motd\n`,
      }),
    });
    const r = await ignite(
      ['gitops', repo.url, '--once', '-o', 'json', '--allow-host-path', allowed],
      {
        env,
        timeoutMs: 300_000,
      },
    );
    const pass = JSON.parse(r.stdout) as PassJSON;
    assert.deepEqual(actions(pass), { dotdot: 'refused', escape: 'refused', ok: 'created' });
    assert.match(
      r.stderr,
      new RegExp(
        `vm \\\\"escape\\\\": refused .*really ${root}/secret.*not under an allowed host directory`,
      ),
    );
    assert.match(r.stderr, /vm \\"dotdot\\": refused .*not under an allowed host directory/);
    assert.deepEqual(
      (await g.vms()).map((v) => v.metadata.name),
      ['ok'],
    );
    // A directory that does not exist is an operator's mistake, said before anything is read.
    const bad = await ignite(
      ['gitops', repo.url, '--once', '--allow-host-path', join(root, 'nope')],
      {
        env,
      },
    );
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--allow-host-path ".*nope": not a directory on the host/);
    assert.equal((await ignite(['rm', '-f', 'ok'], { env })).code, 0);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
