import { execFile } from 'node:child_process';
import { chown, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import { NOBODY, ignite, igniteAsNobody } from '../../helpers/cli.js';
import { pushProjectImages, skopeoCopy, startRegistry } from '../../helpers/registry.js';
import { diffTrees, snapshotTree, type TreeSnapshot } from '../../helpers/tree-snapshot.js';

const pexec = promisify(execFile);

/** The image file an import left in `dataDir` (exactly one). */
async function imageFile(dataDir: string): Promise<string> {
  const dirs = await readdir(join(dataDir, 'image'));
  assert.equal(dirs.length, 1, `one image in ${dataDir}`);
  return join(dataDir, 'image', dirs[0] ?? '', 'image.ext4');
}

/** Checks the image with e2fsck -fn, then mounts it read-only and snapshots its tree. */
async function snapshotImage(image: string, work: string): Promise<TreeSnapshot> {
  const fsck = await pexec('e2fsck', ['-fn', image]).catch(
    (e: { stdout: string; code: number }) => e,
  );
  assert.ok(!('code' in fsck) || fsck.code === 0, `e2fsck -fn ${image}:\n${fsck.stdout}`);
  const mnt = await mkdtemp(join(work, 'mnt-'));
  await pexec('mount', ['-o', 'loop,ro', image, mnt]);
  try {
    return await snapshotTree(mnt);
  } finally {
    await pexec('umount', [mnt]);
  }
}

const notInOCI = (p: string) => p === 'lost+found' || p.startsWith('lost+found/');

for (const [name, tag] of [
  ['busybox', 'latest'],
  ['debian', 'bookworm'],
] as const) {
  test(
    `ignite-${name}: the imported ext4 holds the tree umoci unpacks, whether root or an ordinary user imports it`,
    { timeout: 900_000 },
    async () => {
      if (process.getuid?.() !== 0)
        assert.fail(
          'this test mounts images and switches to the nobody user: it must run as root (CI does)',
        );
      await using reg = await startRegistry();
      await pushProjectImages(reg.host, [name]);
      const ref = `${reg.host}/ignite-${name}:${tag}`;
      const work = await mkdtemp(join(tmpdir(), 'ignite-ext4-import-'));
      try {
        // The reference: skopeo and umoci, the OCI tools, unpacking as root.
        await skopeoCopy(`docker://${ref}`, `oci:${join(work, 'layout')}:x`);
        await pexec('umoci', [
          'unpack',
          '--image',
          `${join(work, 'layout')}:x`,
          join(work, 'bundle'),
        ]);
        const reference = await snapshotTree(join(work, 'bundle', 'rootfs'));

        const rootData = join(work, 'root-data');
        const r = await ignite(['--log-level', 'warn', 'image', 'import', ref], {
          dataDir: rootData,
        });
        assert.equal(r.code, 0, r.stderr);
        const asRoot = await snapshotImage(await imageFile(rootData), work);
        assert.deepEqual(diffTrees(reference, asRoot, notInOCI), []);
        assert.ok(Object.keys(asRoot.entries).length > 10);

        const userData = join(work, 'user-data');
        await mkdir(userData);
        await chown(userData, NOBODY, NOBODY);
        await pexec('chmod', ['755', work]);
        const u = await igniteAsNobody(['--log-level', 'warn', 'image', 'import', ref], {
          IGNITE_DATA_DIR: userData,
        });
        assert.equal(u.code, 0, u.stderr);
        const asUser = await snapshotImage(await imageFile(userData), work);
        assert.deepEqual(
          diffTrees(asRoot, asUser, () => false),
          [],
        );
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  );
}
