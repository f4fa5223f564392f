import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
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
