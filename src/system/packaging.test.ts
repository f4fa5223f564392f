import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packaging, readBuildInfo, readUIFile, SEA_SPAWN_ARG, spawnCommand } from './packaging.js';

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

test('readUIFile: dist/ui/<name> of a bundle, compiled modules or a run from source', async () => {
  const root = await mkdtemp(join(tmpdir(), 'ignite-ui-'));
  try {
    await mkdir(join(root, 'dist', 'ui'), { recursive: true });
    await writeFile(join(root, 'dist', 'ui', 'app.js'), 'js');
    await writeFile(join(root, 'dist', 'secret'), 'no');
    for (const [kind, here] of [
      ['bundle', join(root, 'dist')],
      ['modules', join(root, 'dist', 'system')],
      ['modules', join(root, 'src', 'system')],
    ] as const) {
      assert.equal(readUIFile('app.js', kind, here)?.toString(), 'js', `${kind} ${here}`);
      assert.equal(readUIFile('none.js', kind, here), undefined);
      for (const bad of ['../secret', '..', '.', '', 'ui/../../secret', '/etc/passwd'])
        assert.equal(readUIFile(bad, kind, here), undefined, bad);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
