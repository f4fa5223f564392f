import { chmod, chown, lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NOBODY, ignite, igniteAsNobody } from '../helpers/cli.js';
import { waitForBusyboxInit } from '../helpers/console.js';
import { vmTestEnv } from '../helpers/vm-env.js';

const asNobody = (args: string[], env: NodeJS.ProcessEnv) => igniteAsNobody(args, env, 120_000);

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) await walk(p, out);
  }
  return out;
}

// Run as a non-root user, every command that needs root says so and exits with 6
// (PermissionDenied, docs/cli/exit-codes.md); keys, sockets and metadata have tight modes.
test(
  'as a non-root user, commands that need root say so (exit 6); files have tight modes',
  { timeout: 300_000 },
  async () => {
    if (process.getuid?.() !== 0)
      assert.fail('this test switches to the nobody user and must run as root (CI does)');
    await using t = await vmTestEnv(['busybox', 'kernel']);
    const { env } = t;
    const image = `${t.registry}/ignite-busybox`;
    const run = await ignite(['run', image, '--name', 'owned', '--net', 'none', '--ssh'], { env });
    assert.equal(run.code, 0, run.stderr);
    const uid = await waitForBusyboxInit(t.dataDir, run.stdout);

    // 1. The root-owned store: every command that touches it needs root.
    const needRoot: string[][] = [
      ['ps'],
      ['ps', '-a'],
      ['image', 'ls'],
      ['kernel', 'ls'],
      ['inspect', 'vm', 'owned'],
      ['create', image, '--name', 'x', '--net', 'none'],
      ['run', image, '--name', 'y', '--net', 'none'],
      ['start', 'owned'],
      ['stop', 'owned'],
      ['kill', 'owned'],
      ['rm', '-f', 'owned'],
      ['logs', 'owned'],
      ['metrics', 'owned'],
      ['exec', 'owned', '--', 'true'],
      ['image', 'import', image],
      ['image', 'rm', image],
      ['kernel', 'rm', `${t.registry}/ignite-kernel:6.1`],
    ];
    for (const args of needRoot) {
      const r = await asNobody(args, env);
      assert.equal(r.code, 6, `ignite ${args.join(' ')} as nobody: exit ${r.code}\n${r.stderr}`);
      assert.match(
        r.stderr,
        /permission denied|needs root/i,
        `ignite ${args.join(' ')}: ${r.stderr}`,
      );
      assert.match(r.stderr, /run (ignite )?as root/i, 'the hint says how to fix it');
    }
    for (const args of [['version'], ['--help'], ['ps', '--help']]) {
      const r = await asNobody(args, env);
      assert.equal(r.code, 0, `ignite ${args.join(' ')} needs no root: ${r.stderr}`);
    }

    // 2. A store of its own: listing, importing and creating work; a bridged network needs root,
    // and says so.
    const own = await mkdtemp(join(tmpdir(), 'ignite-nobody-'));
    try {
      await chown(own, NOBODY, NOBODY);
      await chmod(own, 0o700);
      const mine = { ...env, IGNITE_DATA_DIR: own };
      const imported = await asNobody(['image', 'import', image], mine);
      assert.equal(
        imported.code,
        0,
        `importing into its own store needs no root: ${imported.stderr}`,
      );
      assert.equal((await asNobody(['ps', '-a'], mine)).code, 0);
      // A root disk needs no root (a FUSE view through fusermount3, then debugfs).
      const created = await asNobody(['create', image, '--name', 'mine', '--net', 'none'], mine);
      assert.equal(created.code, 0, `a root disk as nobody: ${created.stderr}`);
      assert.equal((await asNobody(['rm', 'mine'], mine)).code, 0);
      assert.deepEqual(await readdir(join(own, 'vm')), [], 'rm left nothing');
      for (const net of ['docker-bridge', 'cni']) {
        const r = await asNobody(['create', image, '--name', `net-${net}`, '--net', net], mine);
        assert.equal(r.code, 6, `--net ${net} as nobody: ${r.stderr}`);
        assert.match(r.stderr, /needs root: network namespaces/);
        assert.match(r.stderr, /--net user/);
      }
    } finally {
      await rm(own, { recursive: true, force: true });
    }

    // 3. Modes: nothing in the store is writable by others; VM directories and the private key are
    // the owner's alone; sockets are reachable only through their 0700 directory.
    const vmDir = join(t.dataDir, 'vm', uid);
    assert.equal((await lstat(vmDir)).mode & 0o777, 0o700, 'the VM directory is 0700');
    assert.equal(
      (await lstat(join(vmDir, `id_${uid}`))).mode & 0o777,
      0o600,
      'the private key is 0600',
    );
    for (const kind of ['vm', 'image', 'kernel'])
      assert.equal(
        (await lstat(join(t.dataDir, kind))).mode & 0o077,
        0,
        `${kind}/ is not open to others`,
      );
    const sockets: string[] = [];
    for (const p of await walk(t.dataDir)) {
      const s = await lstat(p);
      if (s.isSymbolicLink()) continue;
      assert.equal(s.mode & 0o002, 0, `${p} is writable by others`);
      if (s.isSocket()) sockets.push(p);
    }
    assert.ok(
      sockets.some((s) => s.endsWith('control.sock')),
      `the running VM's sockets: ${sockets.join(', ')}`,
    );
    assert.ok(sockets.some((s) => s.endsWith('prometheus.sock')));
    await pexecRm(env);
  },
);

async function pexecRm(env: NodeJS.ProcessEnv): Promise<void> {
  const r = await ignite(['rm', '-f', 'owned'], { env });
  assert.equal(r.code, 0, r.stderr);
}
