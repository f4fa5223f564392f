import { access, link, mkdir, rename, rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { alreadyExists, failedPrecondition, notFound } from '../../errors.js';
import { run } from '../../system/exec.js';

/**
 * Snapshot disks without copying: a VM's qcow2 overlay is frozen (renamed to the snapshot's
 * disk and never written again) and a new, empty overlay over it takes its place; a clone gets
 * its own overlay over the frozen disk. Chains grow by one small file per snapshot:
 *
 *   image.ext4 ← snapshot disk (the VM's writes until the snapshot) ← VM overlay
 *                                                                  ← clone overlay, …
 *
 * A VM that is not running is frozen in place (freezeOverlay): its overlay is renamed and a new
 * one takes its path. A running VM cannot be: QEMU reopens its files by name (to take the disk
 * back after a migration, to change read-only modes), so the name it opened must keep naming
 * the frozen file while it runs. Its overlay is hard-linked to the snapshot disk's path instead
 * (linkFrozenOverlay) and the new overlay gets a new name; the hypervisor then moves its writes
 * there (QEMU: `blockdev-add` + `blockdev-snapshot`, see RunningVM.freezeRootDisk), and the old
 * name can go once it has exited. A backing file is named by its absolute path inside each
 * overlay, so snapshot disks must not move once something is over them.
 */

/** `qemu-img create -f qcow2 -F qcow2 -b <backing> <path>`: an empty overlay of its size. */
export async function createOverlayOver(backing: string, path: string): Promise<void> {
  // The backing file is opened only to read its size, which a running VM's lock permits.
  await run('qemu-img', [
    'create',
    '-q',
    '-f',
    'qcow2',
    '-F',
    'qcow2',
    '-b',
    resolve(backing),
    path,
  ]);
}

export interface FrozenOverlay {
  /** The file that keeps the VM's writes up to the freeze. */
  frozenPath: string;
  /** Puts the files back as they were (the new overlay removed, the old one at its path). */
  undo(): Promise<void>;
}

/**
 * Moves `overlay` to `frozenPath` and puts an empty overlay over it at `overlay`. A VM that is
 * not running then starts on the new overlay as before; a running one keeps writing to the
 * frozen file (the same inode) until its hypervisor switches over. On failure nothing changes.
 */
export async function freezeOverlay(
  overlay: string,
  frozenPath: string,
  label: string,
): Promise<FrozenOverlay> {
  await access(overlay).catch((err: unknown) => {
    throw notFound(`${label}: root disk ${overlay}: not found`, { cause: err });
  });
  if (await exists(frozenPath)) {
    throw alreadyExists(`${label}: snapshot disk ${frozenPath} already exists`);
  }
  await mkdir(dirname(frozenPath), { recursive: true });
  try {
    await rename(overlay, frozenPath);
  } catch (err) {
    throw failedPrecondition(
      `${label}: cannot move root disk ${overlay} to ${frozenPath}: ${(err as Error).message}`,
      { cause: err, hint: 'snapshot disks must be on the same filesystem as the VM' },
    );
  }
  const undo = async () => {
    await rm(overlay, { force: true });
    await rename(frozenPath, overlay);
  };
  try {
    await createOverlayOver(frozenPath, overlay);
  } catch (err) {
    await undo();
    throw err;
  }
  return { frozenPath, undo };
}

/**
 * For a running VM: hard-links its `overlay` at `frozenPath` (one inode, two names, nothing
 * copied) and creates `newOverlay` over `frozenPath`. On failure nothing changes.
 */
export async function linkFrozenOverlay(
  overlay: string,
  frozenPath: string,
  newOverlay: string,
  label: string,
): Promise<FrozenOverlay> {
  for (const path of [frozenPath, newOverlay]) {
    if (await exists(path)) throw alreadyExists(`${label}: ${path} already exists`);
  }
  await mkdir(dirname(frozenPath), { recursive: true });
  try {
    await link(overlay, frozenPath);
  } catch (err) {
    throw failedPrecondition(
      `${label}: cannot link root disk ${overlay} as ${frozenPath}: ${(err as Error).message}`,
      { cause: err, hint: 'snapshot disks must be on the same filesystem as the VM' },
    );
  }
  const undo = async () => {
    await rm(newOverlay, { force: true });
    await rm(frozenPath, { force: true });
  };
  try {
    await createOverlayOver(frozenPath, newOverlay);
  } catch (err) {
    await undo();
    throw err;
  }
  return { frozenPath, undo };
}

/** A clone's own overlay over a snapshot disk; the snapshot disk is only read. */
export async function createCloneOverlay(
  snapshotDisk: string,
  path: string,
  label: string,
): Promise<void> {
  if (!(await exists(snapshotDisk))) {
    throw notFound(`${label}: snapshot disk ${snapshotDisk}: not found`);
  }
  if (await exists(path)) throw alreadyExists(`${label}: root disk ${path} already exists`);
  await mkdir(dirname(path), { recursive: true });
  await createOverlayOver(snapshotDisk, path);
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
