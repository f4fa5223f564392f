import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runProgram } from '../helpers/cli.js';
import { waitForBusyboxInit } from '../helpers/console.js';
import { vmTestEnv } from '../helpers/vm-env.js';

const pexec = promisify(execFile);
const ROOT = join(import.meta.dirname, '../..');

/** A clean environment: no NODE_PATH, no node_modules to fall back on. */
const runBinary = (bin: string, args: string[], env: NodeJS.ProcessEnv) =>
  runProgram(bin, args, { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', ...env });

// The single executable, copied alone into an empty directory, runs the CLI and ignite-spawn.
test(
  'npm run build:sea: dist/ignite alone runs version, image ls and ps, and boots a VM',
  { timeout: 600_000 },
  async () => {
    await pexec(process.execPath, [join(ROOT, 'scripts/build-sea.mjs')], { cwd: ROOT });
    const dir = await mkdtemp(join(tmpdir(), 'ignite-sea-'));
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const bin = join(dir, 'ignite');
    const name = `sea-${process.pid}`;
    try {
      await copyFile(join(ROOT, 'dist/ignite'), bin);
      await pexec('chmod', ['+x', bin]);
      assert.deepEqual(await readdir(dir), ['ignite'], 'nothing beside the binary');
      const env = { ...t.env, HOME: dir };

      const version = await runBinary(bin, ['version', '-o', 'json'], env);
      assert.equal(version.code, 0, version.stderr);
      assert.equal(version.stderr, '', 'no warning from Node');
      const info = JSON.parse(version.stdout) as { version: string; gitCommit: string };
      assert.match(info.version, /^\d+\.\d+\.\d+/);
      assert.notEqual(info.gitCommit, 'unknown');

      const run = await runBinary(
        bin,
        ['run', `${t.registry}/ignite-busybox`, '--name', name, '--net', 'none'],
        env,
      );
      assert.equal(run.code, 0, run.stderr);
      await waitForBusyboxInit(t.dataDir, run.stdout);

      const images = await runBinary(bin, ['image', 'ls'], env);
      assert.match(images.stdout, /ignite-busybox/);
      assert.equal(images.stderr, '', 'no warning from Node');
      const ps = await runBinary(bin, ['ps', '-o', 'json'], env);
      const vms = JSON.parse(ps.stdout) as {
        metadata: { name: string };
        status: { state: string; runtime: { spawnPid: number } };
      }[];
      assert.equal(vms[0]?.metadata.name, name);
      assert.equal(vms[0]?.status.state, 'Running');
      const spawnExe = await readlink(`/proc/${vms[0]?.status.runtime.spawnPid}/exe`);
      assert.equal(spawnExe, bin, 'ignite-spawn is the single executable itself');

      const rm = await runBinary(bin, ['rm', '-f', name], env);
      assert.equal(rm.code, 0, rm.stderr);
    } finally {
      await runBinary(bin, ['rm', '-f', name], t.env);
      await rm(dir, { recursive: true, force: true });
    }
  },
);

// `npm pack` gives a package whose two programs work after a global install.
test(
  'npm pack: ignite and ignite-spawn work after npm install -g',
  { timeout: 600_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ignite-pack-'));
    try {
      const packed = await pexec('npm', ['pack', '--silent', '--pack-destination', dir], {
        cwd: ROOT,
      });
      const tarball = join(dir, packed.stdout.trim().split('\n').pop() ?? '');
      const prefix = join(dir, 'prefix');
      await pexec(
        'npm',
        [
          'install',
          '-g',
          '--prefix',
          prefix,
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          tarball,
        ],
        { cwd: dir, timeout: 300_000 },
      );
      const data = join(dir, 'data');
      const env = { IGNITE_DATA_DIR: data, HOME: dir };
      const version = await runBinary(join(prefix, 'bin/ignite'), ['version', '-o', 'json'], env);
      assert.equal(version.code, 0, version.stderr);
      assert.match(version.stdout, /"version": "\d+\.\d+\.\d+/);
      const ps = await runBinary(join(prefix, 'bin/ignite'), ['ps', '-a'], env);
      assert.equal(ps.code, 0, ps.stderr);
      const spawn = await runBinary(join(prefix, 'bin/ignite-spawn'), ['--help'], env);
      assert.equal(spawn.code, 0, spawn.stderr);
      assert.match(spawn.stdout, /Usage: ignite-spawn/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);
