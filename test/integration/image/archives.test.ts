import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../../helpers/cli.js';
import { tempDataDir } from '../../helpers/data-dir.js';
import { pushProjectImages, skopeoCopy, startRegistry } from '../../helpers/registry.js';

const pexec = promisify(execFile);

test(
  'image import from a docker save tarball and an OCI layout (directory and tar)',
  { timeout: 180_000 },
  async () => {
    await using reg = await startRegistry();
    await pushProjectImages(reg.host, ['busybox']);
    const work = await mkdtemp(join(tmpdir(), 'ignite-archives-'));
    try {
      const src = `docker://${reg.host}/ignite-busybox:latest`;
      await skopeoCopy(
        src,
        `docker-archive:${join(work, 'saved.tar')}:example.com/team/busybox:saved`,
      );
      await skopeoCopy(src, `oci:${join(work, 'layout')}:v1`);
      await pexec('tar', ['-cf', join(work, 'layout.tar'), '-C', join(work, 'layout'), '.']);

      await using dir = await tempDataDir();
      const env = { IGNITE_DATA_DIR: dir.path };
      const saved = await ignite(['image', 'import', join(work, 'saved.tar')], { env });
      assert.equal(saved.code, 0, saved.stderr);
      const fromDir = await ignite(
        ['image', 'import', join(work, 'layout'), '--name', 'localhost/busybox:dir'],
        { env },
      );
      assert.equal(fromDir.code, 0, fromDir.stderr);
      const fromTar = await ignite(
        ['image', 'import', join(work, 'layout.tar'), '--name', 'localhost/busybox:tar'],
        { env },
      );
      assert.equal(fromTar.code, 0, fromTar.stderr);
      // A symlink the user names is theirs to follow: one to a tar imports the archive.
      await symlink(join(work, 'layout.tar'), join(work, 'layout-link.tar'));
      const fromLink = await ignite(
        ['image', 'import', join(work, 'layout-link.tar'), '--name', 'localhost/busybox:link'],
        { env },
      );
      assert.equal(fromLink.code, 0, fromLink.stderr);
      const list = JSON.parse((await ignite(['image', 'ls', '-o', 'json'], { env })).stdout) as {
        metadata: { name: string };
        status: { ociSource: { id: string } };
      }[];
      assert.deepEqual(list.map((i) => i.metadata.name).sort(), [
        'example.com/team/busybox:saved',
        'localhost/busybox:dir',
        'localhost/busybox:link',
        'localhost/busybox:tar',
      ]);
      assert.equal(
        new Set(list.map((i) => i.status.ociSource.id)).size,
        1,
        'the same config digest from every source',
      );

      const noName = await ignite(['image', 'import', join(work, 'layout')], { env });
      assert.equal(noName.code, 0, noName.stderr);
      assert.equal(
        (JSON.parse((await ignite(['image', 'ls', '-o', 'json'], { env })).stdout) as unknown[])
          .length,
        5,
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  },
);
