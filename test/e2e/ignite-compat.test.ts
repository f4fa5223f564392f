import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { sshAnswers } from '../../src/system/tcp-probe.js';
import { ignite } from '../helpers/cli.js';
import { vmTestEnv } from '../helpers/vm-env.js';

const pexec = promisify(execFile);

/**
 * Behaviours of Weave Ignite's CLI that users' scripts rely on (docs/differences.md lists what
 * still differs). One Debian VM (systemd and sshd under TCG) is booted once and shared by the
 * cases that need a guest; the busybox image, which has no SSH server, shows `run --ssh` failing.
 */
test('Ignite CLI behaviours scripts depend on', { timeout: 900_000 }, async (t) => {
  await using e = await vmTestEnv(['kernel', 'debian', 'busybox']);
  const { env } = e;
  const debian = `${e.registry}/ignite-debian:bookworm`;
  const work = await mkdtemp(join(tmpdir(), 'ignite-compat-'));
  const name = `compat-${process.pid}`;
  try {
    await t.test('create: a bare --ssh does not take the image after it', async () => {
      const bare = await ignite(['create', '--name', `${name}-c1`, '--ssh', debian], { env });
      assert.equal(bare.code, 0, bare.stderr);
      const got = await ignite(['inspect', 'vm', `${name}-c1`, '-t', '{{json .Spec.SSH}}'], {
        env,
      });
      assert.equal(got.stdout.trim(), 'true');
      // --ssh=PATH still authorizes a key of the user's.
      await pexec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work, 'key')]);
      const withKey = await ignite(
        ['create', '--ssh=' + join(work, 'key.pub'), '--name', `${name}-c2`, debian],
        { env },
      );
      assert.equal(withKey.code, 0, withKey.stderr);
      const key = await ignite(['inspect', 'vm', `${name}-c2`, '-t', '{{.Spec.SSH}}'], { env });
      assert.equal(key.stdout.trim(), join(work, 'key.pub'));
      await ignite(['rm', `${name}-c1`, `${name}-c2`], { env });
    });

    await t.test('--config: name and image from the flags, missing fields by path', async () => {
      // As Ignite's docs wrote VM configs: no metadata, no spec.image.
      const partial = join(work, 'partial.yaml');
      await writeFile(
        partial,
        'apiVersion: ignite.weave.works/v1alpha1\nkind: VM\nspec:\n  cpus: 2\n  memory: 1GB\n  diskSize: 3GB\n',
      );
      const ok = await ignite(['create', '--config', partial, '--name', `${name}-cfg`, debian], {
        env,
      });
      assert.equal(ok.code, 0, ok.stderr);
      const vm = JSON.parse((await ignite(['inspect', 'vm', `${name}-cfg`], { env })).stdout) as {
        metadata: { name: string };
        spec: { cpus: number; memory: string; image: { ociClaim: { ref: string } } };
      };
      assert.equal(vm.metadata.name, `${name}-cfg`);
      assert.equal(vm.spec.image.ociClaim.ref, debian);
      assert.equal(vm.spec.cpus, 2);
      assert.equal(vm.spec.memory, '1GB', 'JSON keeps the stored form');
      await ignite(['rm', `${name}-cfg`], { env });

      const missing = await ignite(['create', '--config', partial], { env });
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /^ {2}\.spec\.image\.ociClaim\.ref: required/m);
    });

    await t.test('run --ssh returns once SSH answers; exec, ssh and cp wait for it', async () => {
      const running = ignite(['run', '--name', name, '--ssh', debian, '--memory', '1GB'], {
        env,
        timeoutMs: 300_000,
      });
      // Once the VM is recorded running, and long before its sshd is up under TCG, these start:
      // each waits up to its --timeout for the guest's SSH server.
      let state = '';
      for (let i = 0; i < 600 && state !== 'Running'; i++) {
        await new Promise((r) => setTimeout(r, 200));
        state = (
          await ignite(['ps', '-a', '-f', `name=${name}`, '-t', '{{.Status.State}}'], { env })
        ).stdout.trim();
      }
      assert.equal(state, 'Running');
      const [exec, ssh, cp] = await Promise.all([
        ignite(['exec', name, '--timeout', '240s', 'echo exec-ok'], { env }),
        ignite(['ssh', name, '--timeout', '240s', '--', 'echo', 'ssh-ok'], { env }),
        ignite(['cp', '--timeout', '240s', `${name}:/etc/hostname`, join(work, 'hostname')], {
          env,
        }),
      ]);
      assert.equal(exec.stdout, 'exec-ok\n', exec.stderr);
      assert.equal(ssh.stdout, 'ssh-ok\n', ssh.stderr);
      assert.equal(cp.code, 0, cp.stderr);
      assert.equal((await readFile(join(work, 'hostname'), 'utf8')).trim(), name);

      const run = await running;
      assert.equal(run.code, 0, run.stderr);
      // run waited too: the guest's SSH server answers the moment it returns (a refused
      // connection fails this at once).
      const vm = JSON.parse((await ignite(['inspect', 'vm', name], { env })).stdout) as {
        status: { ipAddresses: string[] };
      };
      const ip = vm.status.ipAddresses[0] ?? '';
      assert.ok(await sshAnswers(ip, 22, { connectMs: 2000, bannerMs: 30_000 }), `ssh at ${ip}`);
    });

    await t.test('exec: one argument is a shell command line, several an argv', async () => {
      const line = await ignite(['exec', name, "find /etc -maxdepth 1 -name 'host*' | sort"], {
        env,
      });
      assert.equal(line.code, 0, line.stderr);
      assert.match(line.stdout, /^\/etc\/hostname$/m);
      assert.match(line.stdout, /^\/etc\/hosts$/m);
      const status = await ignite(['exec', name, 'test -d /etc && exit 5'], { env });
      assert.equal(status.code, 5);
      const argv = await ignite(['exec', name, '--', 'printf', '%s|', 'a | b', "it's"], { env });
      assert.equal(argv.stdout, "a | b|it's|", 'several words reach the guest as given');
    });

    await t.test('templates print sizes as Ignite did; JSON and YAML keep them', async () => {
      const inspect = await ignite(
        ['inspect', 'vm', name, '-t', '{{.Spec.Memory}}/{{.Spec.DiskSize}}'],
        { env },
      );
      assert.equal(inspect.stdout, '1024.0 MB/4.0 GB\n');
      const ps = await ignite(['ps', '-f', `name=${name}`, '-t', '{{.Name}} {{.Spec.Memory}}'], {
        env,
      });
      assert.equal(ps.stdout, `${name} 1024.0 MB\n`);
      const yaml = await ignite(['inspect', 'vm', name, '-o', 'yaml'], { env });
      assert.match(yaml.stdout, /^ {2}memory: 1GB$/m);
    });

    await t.test('cp copies a directory without a flag; -r is accepted', async () => {
      await mkdir(join(work, 'tree', 'sub'), { recursive: true });
      await writeFile(join(work, 'tree', 'top.txt'), 'top\n');
      await writeFile(join(work, 'tree', 'sub', 'deep.txt'), 'deep\n');
      const up = await ignite(['cp', join(work, 'tree'), `${name}:/root/tree`], { env });
      assert.equal(up.code, 0, up.stderr);
      const listed = await ignite(['exec', name, 'cd /root/tree && find . -type f | sort'], {
        env,
      });
      assert.equal(listed.stdout, './sub/deep.txt\n./top.txt\n');
      const down = await ignite(['cp', `${name}:/root/tree`, join(work, 'back')], { env });
      assert.equal(down.code, 0, down.stderr);
      assert.equal(await readFile(join(work, 'back', 'sub', 'deep.txt'), 'utf8'), 'deep\n');
      const r = await ignite(['cp', '-r', join(work, 'tree', 'top.txt'), `${name}:/root/t`], {
        env,
      });
      assert.equal(r.code, 0, r.stderr);
    });

    await t.test('ps shows a running VM whose record says Stopped as running', async () => {
      const uid = (await ignite(['ps', '-q', '-f', `name=${name}`], { env })).stdout.trim();
      // A record restored from a backup taken while the VM was stopped.
      const file = join(e.dataDir, 'vm', uid, 'metadata.json');
      const rec = JSON.parse(await readFile(file, 'utf8')) as { status: Record<string, unknown> };
      rec.status = { ...rec.status, state: 'Stopped' };
      for (const k of ['runtime', 'ipAddresses', 'startTime']) delete rec.status[k];
      await writeFile(file, JSON.stringify(rec));
      const ps = await ignite(['ps'], { env });
      assert.match(ps.stdout, new RegExp(`^${uid}\\s.*\\sRunning\\s.*\\s${name}$`, 'm'), ps.stdout);
      const state = await ignite(['inspect', 'vm', name, '-t', '{{.Status.State}}'], { env });
      assert.equal(state.stdout.trim(), 'Running');
      const exec = await ignite(['exec', name, 'true'], { env });
      assert.equal(exec.code, 0, exec.stderr);
    });

    await t.test("run --ssh fails after --timeout with the console's last lines", async () => {
      // The busybox image has no SSH server: run must give up, showing how far the guest got.
      const run = await ignite(
        [
          'run',
          `${e.registry}/ignite-busybox`,
          '--name',
          `${name}-nossh`,
          '--ssh',
          '--timeout',
          '8s',
        ],
        { env },
      );
      assert.equal(run.code, 7, run.stderr);
      assert.match(
        run.stderr,
        /SSH did not answer at [\d.]+:22 within 8 s; the console's last lines:/,
      );
      assert.match(run.stderr, /^ {4}\S/m, 'console lines follow');
    });
  } finally {
    await ignite(['rm', '-f', name, `${name}-nossh`], { env });
    await rm(work, { recursive: true, force: true });
  }
});
