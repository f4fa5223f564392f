import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packaging, readBuildInfo, SEA_SPAWN_ARG, spawnCommand } from './packaging.js';

test('packaging: a bundle has ignite-spawn.cjs beside it; otherwise modules', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-pkg-'));
  try {
    assert.equal(packaging(dir), 'modules');
    await writeFile(join(dir, 'ignite-spawn.cjs'), '');
    assert.equal(packaging(dir), 'bundle');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('spawnCommand: the same Node binary runs the spawn entry of each packaging', () => {
  const cases: [Parameters<typeof spawnCommand>[0], string, string[]][] = [
    ['single-executable', '/opt/ignite', [SEA_SPAWN_ARG]],
    ['bundle', '/opt/ignite/dist', ['/opt/ignite/bin/ignite-spawn.js']],
    ['modules', '/opt/ignite/dist/system', ['/opt/ignite/dist/spawn/main.js']],
  ];
  for (const [kind, here, args] of cases) {
    const c = spawnCommand(kind, here);
    assert.equal(c.file, process.execPath, kind);
    assert.deepEqual(c.args, args, kind);
  }
});

test('readBuildInfo: dist/build-info.json, else the development fallback', async () => {
  const dist = await mkdtemp(join(tmpdir(), 'ignite-dist-'));
  try {
    const info = { version: '1.2.3', gitCommit: 'abc', buildDate: '2024-01-01' };
    await writeFile(join(dist, 'build-info.json'), JSON.stringify(info));
    assert.deepEqual(readBuildInfo('bundle', dist), info);
    assert.deepEqual(readBuildInfo('modules', join(dist, 'system')), info);
    assert.equal(readBuildInfo('modules', join(dist, 'none', 'system')).version, '0.0.0-dev');
  } finally {
    await rm(dist, { recursive: true, force: true });
  }
});
