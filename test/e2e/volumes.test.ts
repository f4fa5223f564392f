import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite, runTestVM } from '../helpers/cli.js';
import { typeOnConsole, waitForBusyboxInit, waitForText } from '../helpers/console.js';
import { vmTestEnv } from '../helpers/vm-env.js';

const pexec = promisify(execFile);

/** Runs `line` on the VM's console and waits for `marker`, which the line prints when done. */
async function onConsole(dataDir: string, uid: string, line: string, marker: RegExp) {
  const log = join(dataDir, 'vm', uid, 'console.log');
  await typeOnConsole(join(dataDir, 'vm', uid, 'console.sock'), line);
  return waitForText(log, marker, 30_000);
}

// The guest's output is told from the echo of the typed line by $((…)), which only the shell
// expands: the line says `OK-$((1+1))`, the output `OK-2`.
test(
  'volumes: a named volume outlives its VM, is refused to a second writer and to rm, and mounts read-only',
  { timeout: 600_000 },
  async () => {
    await using t = await vmTestEnv(['busybox', 'kernel-micro']);
    const { env, dataDir } = t;
    const image = `${t.registry}/ignite-busybox`;
    const vol = `data-${process.pid}`;
    const a = `vol-a-${process.pid}`;
    const b = `vol-b-${process.pid}`;
    const c = `vol-c-${process.pid}`;
    const flags = ['--net', 'none', '--memory', '64MB'];
    const made = await ignite(['volume', 'create', vol, '--size', '32MB'], { env });
    assert.equal(made.code, 0, made.stderr);

    {
      await using runA = await runTestVM(image, a, [...flags, '-v', `${vol}:/data`], env);
      const uid = await waitForBusyboxInit(dataDir, runA.stdout);
      const log = await onConsole(
        dataDir,
        uid,
        'echo written-by-a > /data/f && grep " /data " /proc/mounts; echo WRITE-$((40+2))',
        /WRITE-42/,
      );
      assert.match(log, /\/dev\/vdb \/data ext4 rw/, 'mounted from fstab');

      // While a runs with it read-write: no second VM gets it, even read-only, and rm refuses.
      const second = await ignite(['run', image, '--name', b, ...flags, '-v', `${vol}:/d:ro`], {
        env,
      });
      assert.notEqual(second.code, 0);
      assert.match(second.stderr, new RegExp(`volume "${vol}" is attached to running vm "${a}"`));
      const ps = await ignite(['ps', '-a'], { env });
      assert.doesNotMatch(ps.stdout, new RegExp(b), 'nothing of the refused VM is left');
      const rmVol = await ignite(['volume', 'rm', vol], { env });
      assert.notEqual(rmVol.code, 0);
      assert.match(rmVol.stderr, new RegExp(`volume "${vol}": used by vm "${a}"`));
      // Killed with its write synced to the journal but not checkpointed: the volume is left
      // needing recovery, which a read-only device cannot do, so the host replays it first.
      await onConsole(dataDir, uid, 'sync; echo SYNCED-$((6*7))', /SYNCED-42/);
      const kill = await ignite(['kill', a], { env });
      assert.equal(kill.code, 0, kill.stderr);
    }

    // a is gone (rm -f); the volume is kept, and a new VM reads what a wrote.
    const ls = await ignite(['volume', 'ls'], { env });
    assert.match(ls.stdout, new RegExp(`\\s${vol}\\s`));
    await using runC = await runTestVM(image, c, [...flags, '-v', `${vol}:/data:ro`], env);
    const uid = await waitForBusyboxInit(dataDir, runC.stdout);
    await onConsole(dataDir, uid, 'cat /data/f; echo READ-$((6*7))', /written-by-a\r?\n.*READ-42/s);
    const log = await onConsole(
      dataDir,
      uid,
      'touch /data/g || echo REFUSED-$((7*6))',
      /REFUSED-42/,
    );
    assert.match(log, /Read-only file system/);
  },
);

test(
  'volumes: a loop device as -v /dev/loopN:/mnt, and 9p shares, read-write and read-only',
  { timeout: 600_000 },
  async () => {
    assert.equal(process.getuid?.(), 0, 'loop devices need root (CI runs as root)');
    await using t = await vmTestEnv(['busybox', 'kernel-micro']);
    const { env, dataDir } = t;
    const work = await mkdtemp(join(tmpdir(), 'ignite-vol-e2e-'));
    let loop = '';
    try {
      const content = join(work, 'content');
      const share = join(work, 'share');
      const roShare = join(work, 'ro');
      await mkdir(content);
      await mkdir(share);
      await mkdir(roShare);
      await writeFile(join(content, 'on-the-disk'), 'from-the-loop-device\n');
      await writeFile(join(share, 'host.txt'), 'from-the-host\n');
      const img = join(work, 'disk.img');
      await writeFile(img, '');
      await pexec('truncate', ['-s', '16M', img]);
      await pexec('mkfs.ext4', ['-F', '-q', '-d', content, img]);
      loop = (await pexec('losetup', ['-f', '--show', img])).stdout.trim();
      assert.match(loop, /^\/dev\/loop\d+$/);

      const name = `vol-9p-${process.pid}`;
      await using run = await runTestVM(
        `${t.registry}/ignite-busybox`,
        name,
        [
          ...['--net', 'none', '--memory', '64MB'],
          ...['-v', `${loop}:/mnt`],
          ...['--mount', `type=bind,src=${share},dst=/share`],
          ...['--mount', `type=bind,src=${roShare},dst=/ro,ro`],
        ],
        env,
      );
      const uid = await waitForBusyboxInit(dataDir, run.stdout);
      await onConsole(
        dataDir,
        uid,
        'cat /mnt/on-the-disk /share/host.txt; echo SEEN-$((40+2))',
        /from-the-loop-device\r?\nfrom-the-host\r?\n.*SEEN-42/s,
      );
      await onConsole(
        dataDir,
        uid,
        'echo from-the-guest > /share/guest.txt && sync && echo WROTE-$((40+2))',
        /WROTE-42/,
      );
      assert.equal(await readFile(join(share, 'guest.txt'), 'utf8'), 'from-the-guest\n');
      const log = await onConsole(
        dataDir,
        uid,
        'touch /ro/x || echo REFUSED-$((40+2))',
        /REFUSED-42/,
      );
      assert.match(log, /Read-only file system/);
      await assert.rejects(readFile(join(roShare, 'x')));
    } finally {
      if (loop !== '') await pexec('losetup', ['-d', loop]).catch(() => undefined);
      await rm(work, { recursive: true, force: true });
    }
  },
);
