import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { FsRuntimeFiles } from './fs-runtime-files.js';
import { DataLayout } from './layout.js';

const UID = '0123456789abcdef';

async function withFiles(fn: (f: FsRuntimeFiles, l: DataLayout) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-runtime-'));
  try {
    const layout = new DataLayout(dir);
    await fn(new FsRuntimeFiles(layout), layout);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('run record: written whole, read back, unreadable or absent is undefined', () =>
  withFiles(async (f, l) => {
    await f.makeVMDir(UID);
    assert.equal(f.readRunRecord(UID), undefined);
    assert.equal(f.mayHaveRunRecords(), undefined, 'in the VM dirs: a look at each tells');
    await f.writeRunRecord(UID, { state: 'Running', runtime: { spawnPid: 10, pid: 11 } });
    assert.deepEqual(f.readRunRecord(UID), {
      state: 'Running',
      runtime: { spawnPid: 10, pid: 11 },
    });
    await writeFile(l.vm(UID).runRecord, '{not json');
    assert.equal(f.readRunRecord(UID), undefined);
    await f.removeRunRecord(UID);
    assert.deepEqual(await readdir(l.vm(UID).dir), []);
  }));

test('run files: sockets and run record go, logs and disks stay', () =>
  withFiles(async (f, l) => {
    await f.makeVMDir(UID);
    const v = l.vm(UID);
    for (const p of [v.consoleSocket, v.controlSocket, v.metricsSocket, v.runRecord, v.consoleLog])
      await writeFile(p, '');
    await writeFile(v.rootDiskRaw, '');
    await f.removeRunFiles(UID);
    assert.deepEqual((await readdir(v.dir)).sort(), ['console.log', 'rootfs.ext4']);
    assert.deepEqual(await f.rootDisk(UID), { path: v.rootDiskRaw, format: 'raw' });
    await writeFile(v.rootDiskQcow2, '');
    assert.equal((await f.rootDisk(UID))?.format, 'qcow2', 'qcow2 first');
    await f.removeVMDir(UID);
    assert.equal(await f.rootDisk(UID), undefined);
  }));

test('with a run dir: a 0700 dir per run; run files go, and the dirs once empty; sweeps', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-runtime-'));
  try {
    const layout = new DataLayout(join(dir, 'data'), join(dir, 'rt', 'ignite'));
    const f = new FsRuntimeFiles(layout);
    await f.makeVMDir(UID);
    assert.deepEqual(await f.listRunDirs(), []);
    assert.deepEqual(f.mayHaveRunRecords(), new Set(), 'no run dir yet');
    await f.makeRunDir(UID);
    assert.deepEqual(f.mayHaveRunRecords(), new Set([UID]));
    const v = layout.vm(UID);
    assert.equal((await stat(v.runDir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(dir, 'rt', 'ignite'))).mode & 0o777, 0o700);
    await f.writeRunRecord(UID, { state: 'Running', runtime: { spawnPid: 10, pid: 11 } });
    assert.equal(f.readRunRecord(UID)?.runtime?.pid, 11);
    for (const p of [v.consoleSocket, v.controlSocket, v.metricsSocket, v.supervisorSocket])
      await writeFile(p, '');
    assert.deepEqual(await readdir(v.dir), [], 'nothing of the run in the data dir');
    await f.removeRunFiles(UID);
    assert.deepEqual(await readdir(join(dir, 'rt')), [], 'the run dir went with its last VM');
    // A run killed with its files left: a foreign file keeps removeRunFiles from the dir, the
    // sweep's removeRunDir takes it whole.
    await f.makeRunDir(UID);
    await writeFile(join(v.runDir, 'passt.sock'), '');
    await f.removeRunFiles(UID);
    assert.deepEqual(await f.listRunDirs(), [UID]);
    await f.removeRunDir(UID);
    assert.deepEqual(await readdir(join(dir, 'rt')), []);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('without a run dir there is none to list or sweep', () =>
  withFiles(async (f) => {
    await f.makeVMDir(UID);
    await f.makeRunDir(UID);
    assert.deepEqual(await f.listRunDirs(), []);
    await f.removeRunDir(UID);
    assert.deepEqual(await f.listVMDirs(), [UID], 'the VM dir is not a run dir to sweep');
  }));

test('logs: the console rotated generation first; tails; absent logs', () =>
  withFiles(async (f, l) => {
    await f.makeVMDir(UID);
    const v = l.vm(UID);
    let out = '';
    const sink = new Writable({ write: (c: Buffer, _e, cb) => ((out += c.toString()), cb()) });
    assert.equal(await f.copyLog(UID, 'console', sink), false);
    assert.equal(await f.readSpawnLog(UID), undefined);
    assert.equal(await f.readConsoleTail(UID, 10), undefined);
    await writeFile(`${v.consoleLog}.1`, 'old\n');
    await writeFile(v.consoleLog, 'new\n');
    assert.equal(await f.copyLog(UID, 'console', sink), true);
    assert.equal(out, 'old\nnew\n');
    assert.equal(await f.readConsoleTail(UID, 3), 'ew\n');
    await writeFile(v.spawnLog, '{"level":50}\n');
    assert.equal(await f.readSpawnLog(UID), '{"level":50}\n');
    assert.equal(await f.diskUsage(join(v.dir, 'none')), 0);
  }));
