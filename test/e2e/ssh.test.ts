import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { vmTestEnv } from '../helpers/vm-env.js';

// The ignite-debian image (systemd, openssh-server, DHCP) under TCG, reached over SSH with the
// key pair generated at create.
test(
  'exec and cp over SSH into a Debian VM; the guest exit status passes through',
  { timeout: 900_000 },
  async () => {
    await using t = await vmTestEnv(['kernel', 'debian']);
    const { env } = t;
    const reg = { host: t.registry };
    const dir = { path: t.dataDir };
    const work = await mkdtemp(join(tmpdir(), 'ignite-ssh-'));
    const name = `deb-${process.pid}`;
    try {
      const run = await ignite(
        ['run', `${reg.host}/ignite-debian:bookworm`, '--name', name, '--ssh'],
        { env },
      );
      assert.equal(run.code, 0, run.stderr);
      const uid = run.stdout.trim().split('\n').pop() ?? '';
      assert.equal(
        (await stat(join(dir.path, 'vm', uid, `id_${uid}`))).mode & 0o777,
        0o600,
        'the private key is 0600',
      );

      // sshd comes up a few seconds after the VM starts: retry until the first command gets through.
      let uname = await ignite(['exec', name, '--', 'uname', '-r'], { env });
      for (let i = 0; i < 60 && uname.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 2000));
        uname = await ignite(['exec', name, '--', 'uname', '-r'], { env });
      }
      assert.equal(uname.code, 0, uname.stderr);
      const kernel = JSON.parse((await ignite(['kernel', 'ls', '-o', 'json'], { env })).stdout) as {
        status: { version: string };
      }[];
      assert.equal(uname.stdout.trim(), kernel[0]?.status.version);

      const seven = await ignite(['exec', name, '--', 'sh', '-c', 'exit 7'], { env });
      assert.equal(seven.code, 7);
      const quoted = await ignite(['exec', name, '--', 'printf', '%s|', 'two words', "it's"], {
        env,
      });
      assert.equal(quoted.stdout, "two words|it's|", 'arguments reach the guest as given');

      await writeFile(join(work, 'in.txt'), 'from the host\n');
      assert.equal(
        (await ignite(['cp', join(work, 'in.txt'), `${name}:/root/in.txt`], { env })).code,
        0,
      );
      assert.equal(
        (await ignite(['exec', name, '--', 'cat', '/root/in.txt'], { env })).stdout,
        'from the host\n',
      );
      assert.equal(
        (await ignite(['cp', `${name}:/etc/hostname`, join(work, 'hostname')], { env })).code,
        0,
      );
      assert.equal((await readFile(join(work, 'hostname'), 'utf8')).trim(), name);

      const stop = await ignite(['stop', name], { env });
      assert.equal(stop.code, 0, stop.stderr);
    } finally {
      await ignite(['rm', '-f', name], { env });
      await rm(work, { recursive: true, force: true });
    }
  },
);
