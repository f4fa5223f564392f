import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rawStorageSuite } from '../../test/suites/raw-storage.suite.js';
import { MemoryRawStorage } from './memory-raw-storage.js';
import { ObjectDirsRawStorage } from './object-dirs-raw-storage.js';

rawStorageSuite('ObjectDirsRawStorage over MemoryRawStorage', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-dirs-'));
  return {
    raw: new ObjectDirsRawStorage(new MemoryRawStorage(), dir),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
});

test('ObjectDirsRawStorage: a write makes the object directory, a delete removes it whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-dirs-'));
  try {
    const inner = new MemoryRawStorage();
    const raw = new ObjectDirsRawStorage(inner, dir);
    const key = { kind: 'VM' as const, uid: '0123456789abcdef' };
    const objectDir = join(dir, 'vm', key.uid);
    await raw.write(key, Buffer.from('{}'));
    assert.ok(existsSync(objectDir));
    assert.equal(existsSync(join(objectDir, 'metadata.json')), false, 'the bytes are in the store');
    await writeFile(join(objectDir, 'rootfs.qcow2'), 'disk');
    await raw.delete(key);
    assert.equal(existsSync(objectDir), false);
    assert.equal(await inner.exists(key), false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
