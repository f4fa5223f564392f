import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition } from '../errors.js';
import { FakeProcesses } from '../../test/fakes/fake-processes.js';
import { acquirePidLock, claimPidFile, pidFileHolder } from './pid-lock.js';
import { withTempDir } from '../../test/helpers/temp-dir.js';

const withDir = (fn: (dir: string) => Promise<void>) => withTempDir('ignite-pid-lock-', fn);

const held = (pid: number) => failedPrecondition(`process ${pid} holds it`);

test('a starter claims the pid file for the process it started, which then takes it as its own', () =>
  withDir(async (dir) => {
    const procs = new FakeProcesses();
    const file = join(dir, 'run', 'supervisor.pid');
    const child = procs.add(['ignite-spawn', '--supervise-host']);
    const ref = { pid: child.pid, startTime: child.startTime };
    const alive = (h: { pid: number; startTime?: number }) => procs.isAlive(h.pid, h);
    assert.equal(claimPidFile(file, ref, alive), true);
    assert.deepEqual(pidFileHolder(file), ref);
    // Again: it names that one already.
    assert.equal(claimPidFile(file, ref, alive), true);
    // Another process is refused the lock while the claimed one lives...
    const other = procs.add(['ignite-spawn', '--supervise-host']);
    assert.equal(claimPidFile(file, { pid: other.pid, startTime: other.startTime }, alive), false);
    await assert.rejects(
      acquirePidLock(file, procs, { pid: other.pid, startTime: other.startTime }, held),
      new RegExp(`process ${child.pid} holds it`),
    );
    // ...and the claimed one takes it, and releases it.
    const release = await acquirePidLock(file, procs, ref, held);
    assert.deepEqual(pidFileHolder(file), ref);
    await release();
    assert.equal(pidFileHolder(file), undefined);
    assert.deepEqual(await readdir(join(dir, 'run')), [], 'no temporary file is left');
  }));

test("a claim takes over a dead holder's pid file, and a PID reused since is not the holder", () =>
  withDir(async (dir) => {
    const procs = new FakeProcesses();
    const file = join(dir, 'supervisor.pid');
    const alive = (h: { pid: number; startTime?: number }) => procs.isAlive(h.pid, h);
    const dead = procs.add(['ignite-spawn']);
    procs.exit(dead.pid);
    await writeFile(file, JSON.stringify({ pid: dead.pid, startTime: dead.startTime }));
    const child = procs.add(['ignite-spawn']);
    assert.equal(claimPidFile(file, { pid: child.pid, startTime: child.startTime }, alive), true);
    assert.equal((JSON.parse(await readFile(file, 'utf8')) as { pid: number }).pid, child.pid);
    // The same PID with another start time is another process: it is not the holder.
    const reused = { pid: child.pid, startTime: child.startTime + 100 };
    await assert.rejects(acquirePidLock(file, procs, reused, held), /holds it/);
    // An unreadable file names no one.
    await writeFile(file, 'not json');
    assert.equal(pidFileHolder(file), undefined);
  }));

test('a claim writes nothing where others can write, nor through a file at its temporary name', () =>
  withDir(async (dir) => {
    const procs = new FakeProcesses();
    const alive = (h: { pid: number; startTime?: number }) => procs.isAlive(h.pid, h);
    const child = procs.add(['ignite-spawn']);
    const ref = { pid: child.pid, startTime: child.startTime };
    const shared = join(dir, 'shared');
    await mkdir(shared, { mode: 0o777 });
    await chmod(shared, 0o1777);
    assert.equal(claimPidFile(join(shared, 'supervisor.pid'), ref, alive), false);
    assert.deepEqual(await readdir(shared), []);

    const own = join(dir, 'own');
    await mkdir(own, { mode: 0o700 });
    const target = join(dir, 'target');
    await writeFile(target, 'untouched');
    await symlink(target, join(own, `supervisor.pid.${process.pid}.claim`));
    assert.throws(() => claimPidFile(join(own, 'supervisor.pid'), ref, alive), /EEXIST/);
    assert.equal(await readFile(target, 'utf8'), 'untouched');
    assert.equal(pidFileHolder(join(own, 'supervisor.pid')), undefined);
  }));
