import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IGNITE_BIN, ignite } from '../helpers/cli.js';
import { eventually } from '../helpers/fleet.js';
import { vmTestEnv } from '../helpers/vm-env.js';
import { findProgram, runUnchecked } from '../../src/system/exec.js';

// A create killed while debugfs writes the VM's files into its root disk must leave those files
// with the VM, whose removal takes them, and nowhere else (not in the host's temp directory, which
// nothing would clean). debugfs is the real one, behind a stand-in on PATH that says when it is
// called and holds the call, so the kill lands there every time.
test(
  'a create killed while it writes the VM files into the root disk leaves them nowhere but in the VM, which rm -f removes',
  { timeout: 300_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel']);
    // The local CLI builds the disk, also when the cases otherwise go through a daemon.
    const { IGNITE_HOST: _daemon, ...env } = t.env;
    const image = `${t.registry}/ignite-busybox`;
    assert.equal((await ignite(['image', 'import', image], { env })).code, 0);
    const work = await mkdtemp(join(tmpdir(), 'ignite-killed-disk-'));
    try {
      const temp = join(work, 'tmp');
      const bin = join(work, 'bin');
      const called = join(work, 'debugfs-called');
      await mkdir(temp);
      await mkdir(bin);
      const debugfs = findProgram('debugfs');
      assert.ok(debugfs !== undefined, 'debugfs is installed');
      await writeFile(
        join(bin, 'debugfs'),
        // Only the run that writes (-w) is held: reads of the image come first.
        `#!/bin/sh\nif [ "$1" = -w ]; then echo $$ > '${called}'; exec sleep 60; fi\nexec '${debugfs}' "$@"\n`,
      );
      await chmod(join(bin, 'debugfs'), 0o755);

      const child = spawn(process.execPath, [IGNITE_BIN, 'create', image, '--name', 'k'], {
        env: { ...process.env, ...env, TMPDIR: temp, PATH: `${bin}:${process.env['PATH'] ?? ''}` },
        stdio: 'ignore',
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const holder = await eventually(
        'debugfs called',
        async () => {
          const pid = (await readFile(called, 'utf8')).trim();
          return /^\d+$/.test(pid) ? pid : undefined;
        },
        120_000,
        10,
      );
      child.kill('SIGKILL');
      await exited;
      await runUnchecked('kill', ['-9', holder]);

      assert.deepEqual(await readdir(temp), [], "the VM's files are not in the temp directory");
      const rmf = await ignite(['rm', '-f', 'k'], { env });
      assert.equal(rmf.code, 0, rmf.stderr);
      assert.deepEqual(
        (await readdir(join(t.dataDir, 'vm'))).filter((e) => !e.startsWith('.')),
        [],
        'no VM directory left',
      );
      const mounts = await readFile('/proc/self/mounts', 'utf8');
      assert.ok(!mounts.includes(t.dataDir), `no mount left under the data dir:\n${mounts}`);
      const daemons = await runUnchecked('pgrep', ['-f', `qemu-storage-daemon.*${t.dataDir}`]);
      assert.equal(daemons.stdout, '', 'no qemu-storage-daemon left');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
);
