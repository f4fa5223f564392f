import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ignite } from '../helpers/cli.js';
import { cliMode } from '../helpers/cli-mode.js';
import { tempDataDir } from '../helpers/data-dir.js';
import { pushProjectImages, startRegistry } from '../helpers/registry.js';

test(
  'image and kernel import from a real registry: by tag, by digest, twice, in use',
  { timeout: 300_000 },
  async () => {
    await using reg = await startRegistry();
    await pushProjectImages(reg.host, ['busybox', 'kernel']);
    await using dir = await tempDataDir();
    await using mode = await cliMode({ IGNITE_DATA_DIR: dir.path });
    const { env } = mode;

    const first = await ignite(['image', 'import', `${reg.host}/ignite-busybox`], { env });
    assert.equal(first.code, 0, first.stderr);
    const uid = first.stdout.trim();
    const again = await ignite(['image', 'import', `${reg.host}/ignite-busybox:latest`], { env });
    assert.equal(again.stdout.trim(), uid, 'the second import returns the same object');
    const list = JSON.parse((await ignite(['image', 'ls', '-o', 'json'], { env })).stdout) as {
      metadata: { uid: string };
      status: { ociSource: { id: string; repoDigests: string[] } };
    }[];
    assert.equal(list.length, 1);
    const src = list[0]?.status.ociSource;
    assert.match(src?.id ?? '', /^sha256:[a-f0-9]{64}$/);
    const repoDigest = src?.repoDigests[0] ?? '';
    assert.match(repoDigest, new RegExp(`^${reg.host}/ignite-busybox@sha256:[a-f0-9]{64}$`));
    const info = JSON.parse((await ignite(['inspect', 'image', uid], { env })).stdout) as {
      status: { ext4Path: string };
    };
    assert.equal(
      info.status.ext4Path,
      join(dir.path, 'image', uid, 'image.ext4'),
      'the object records its ext4 path',
    );
    const ext4 = await readFile(join(dir.path, 'image', uid, 'image.ext4'));
    assert.equal(ext4.readUInt16LE(1024 + 56), 0xef53, 'image.ext4 is an ext4 filesystem');

    // By digest: same content, so the ext4 is shared, not rebuilt.
    const byDigest = await ignite(['image', 'import', repoDigest], { env });
    assert.equal(byDigest.code, 0, byDigest.stderr);
    assert.notEqual(byDigest.stdout.trim(), uid);

    const k = await ignite(['kernel', 'import', `${reg.host}/ignite-kernel:6.1`], { env });
    assert.equal(k.code, 0, k.stderr);
    const kuid = k.stdout.trim();
    const vmlinux = await readFile(join(dir.path, 'kernel', kuid, 'vmlinux'));
    assert.deepEqual([...vmlinux.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'vmlinux is an ELF');
    const initrd = await readFile(join(dir.path, 'kernel', kuid, 'initrd'));
    assert.deepEqual([...initrd.subarray(0, 2)], [0x1f, 0x8b], 'the initrd is recorded');
    const kinfo = JSON.parse((await ignite(['inspect', 'kernel', kuid], { env })).stdout) as {
      status: { version: string };
    };
    assert.match(kinfo.status.version, /^\d+\.\d+\.\d+/);

    const missing = await ignite(['image', 'import', `${reg.host}/nope:1`], { env });
    assert.equal(missing.code, 3, missing.stderr);
    assert.match(missing.stderr, /not found/);
  },
);
