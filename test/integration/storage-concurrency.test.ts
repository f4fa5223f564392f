import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newFsClient } from '../../src/storage/index.js';

const pexec = promisify(execFile);
const WRITER = join(import.meta.dirname, '../helpers/write-vms.ts');

test('two processes writing 100 objects each into one data dir end with 200 objects', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-conc-'));
  try {
    await Promise.all(
      ['a', 'b'].map((prefix) =>
        pexec(process.execPath, ['--import', 'tsx', WRITER, dir, prefix, '100']),
      ),
    );
    const all = await newFsClient(dir).vms.list();
    assert.equal(all.length, 200);
    assert.equal(new Set(all.map((v) => v.metadata.name)).size, 200);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('two processes racing to create the same names: each name is created exactly once', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-conc-'));
  try {
    const results = await Promise.all(
      ['x', 'x'].map((prefix) =>
        pexec(process.execPath, [
          '--import',
          'tsx',
          WRITER,
          dir,
          prefix,
          '30',
          '--tolerate-exists',
        ]),
      ),
    );
    const created = results.map((r) => Number(r.stdout.trim()));
    assert.equal((created[0] ?? 0) + (created[1] ?? 0), 30);
    assert.equal((await newFsClient(dir).vms.list()).length, 30);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
