import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../../src/errors.js';
import { run } from '../../../src/system/exec.js';
import { createOverlay } from '../../../src/vmm/disk/create-root-disk.js';
import {
  createCloneOverlay,
  freezeOverlay,
  linkFrozenOverlay,
} from '../../../src/vmm/disk/overlay-snapshot.js';

// Real qemu-img on real files: the chains the snapshot disks build, and that nothing is copied.

async function withDisk(fn: (dir: string, overlay: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-overlay-snap-'));
  try {
    const image = join(dir, 'image.ext4');
    await run('truncate', ['-s', '64M', image]);
    const overlay = join(dir, 'vm', 'rootfs.qcow2');
    await run('mkdir', ['-p', join(dir, 'vm')]);
    await createOverlay(image, overlay);
    // Some data in the overlay, as a VM's writes would put there.
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 4M', overlay]);
    await fn(dir, overlay);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function chain(path: string): Promise<string[]> {
  const r = await run('qemu-img', ['info', '-U', '--backing-chain', '--output=json', path]);
  return (JSON.parse(r.stdout) as { filename: string }[]).map((i) => i.filename);
}

test('freezeOverlay: the overlay becomes the snapshot disk and a small new one takes its path', async () => {
  await withDisk(async (dir, overlay) => {
    const frozen = join(dir, 'snap', 'disk.qcow2');
    const before = await stat(overlay);
    await freezeOverlay(overlay, frozen, 'vm "t"');
    assert.equal((await stat(frozen)).ino, before.ino, 'renamed, not copied');
    assert.deepEqual(await chain(overlay), [overlay, frozen, join(dir, 'image.ext4')]);
    assert.ok((await stat(overlay)).size < 1024 * 1024);
    await run('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0x5a 0 4M', overlay]);
    await assert.rejects(freezeOverlay(overlay, frozen, 'vm "t"'), (e: unknown) =>
      AppError.is(e, 'AlreadyExists'),
    );
  });
});

test('linkFrozenOverlay: one inode under two names, a new overlay over the snapshot name; undo restores', async () => {
  await withDisk(async (dir, overlay) => {
    const frozen = join(dir, 'snap', 'disk.qcow2');
    const next = join(dir, 'vm', 'rootfs-1.qcow2');
    const f = await linkFrozenOverlay(overlay, frozen, next, 'vm "t"');
    assert.equal((await stat(frozen)).ino, (await stat(overlay)).ino);
    assert.deepEqual(await chain(next), [next, frozen, join(dir, 'image.ext4')]);
    await f.undo();
    await assert.rejects(stat(frozen), { code: 'ENOENT' });
    await assert.rejects(stat(next), { code: 'ENOENT' });
    await stat(overlay);
  });
});

test('createCloneOverlay: a clone reads the snapshot disk through its own overlay', async () => {
  await withDisk(async (dir, overlay) => {
    const frozen = join(dir, 'snap', 'disk.qcow2');
    await freezeOverlay(overlay, frozen, 'vm "t"');
    const clone = join(dir, 'c1', 'rootfs.qcow2');
    await createCloneOverlay(frozen, clone, 'vm "c1"');
    await run('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0x5a 0 4M', clone]);
    await run('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x11 0 1M', clone]);
    // The clone's writes stay in the clone.
    await run('qemu-io', ['-f', 'qcow2', '-c', 'read -P 0x5a 0 4M', overlay]);
    await assert.rejects(createCloneOverlay(frozen, clone, 'vm "c1"'), (e: unknown) =>
      AppError.is(e, 'AlreadyExists'),
    );
    await assert.rejects(
      createCloneOverlay(join(dir, 'nope.qcow2'), join(dir, 'c2.qcow2'), 'vm "c2"'),
      (e: unknown) => AppError.is(e, 'NotFound') && /^vm "c2": snapshot disk /.test(e.message),
    );
  });
});
