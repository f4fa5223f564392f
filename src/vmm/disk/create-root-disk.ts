import { constants } from 'node:fs';
import { copyFile, mkdtemp, open, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { invalidArgument } from '../../errors.js';
import { ROOT_DISK_QCOW2, ROOT_DISK_RAW } from '../../storage/layout.js';
import { run } from '../../system/exec.js';
import { applyDebugfsBatches, guestFilesBatch } from './debugfs-writer.js';
import { withRawView } from './fuse-export.js';
import { guestModulesBatch } from './modules-writer.js';
import type { GuestFile, RootDisk, RootDiskConfig } from './root-disk.js';

/**
 * Builds the VM's root disk (see root-disk.ts). On failure the disk file is removed: a failed
 * create leaves nothing behind.
 */
export async function createRootDisk(c: RootDiskConfig): Promise<RootDisk> {
  const imageSize = (
    await stat(c.imagePath).catch(() => {
      throw invalidArgument(`${c.label}: image file ${c.imagePath} is missing`);
    })
  ).size;
  const size = Math.max(c.sizeBytes, imageSize);
  const path = join(c.vmDir, c.format === 'qcow2' ? ROOT_DISK_QCOW2 : ROOT_DISK_RAW);
  // Built under another name and renamed when complete: a create killed half-way leaves no disk
  // that a start would boot from.
  const partial = `${path}.partial`;
  try {
    if (c.format === 'qcow2' && c.grownBaseDir !== undefined) {
      const base = await grownBase(c, c.grownBaseDir, size);
      try {
        await copyFile(base.path, partial, constants.COPYFILE_FICLONE);
      } finally {
        if (base.own) await rm(base.path, { force: true });
      }
      await withRawView(partial, size, c.label, (raw) => writeFiles(raw, c));
    } else if (c.format === 'qcow2') {
      await createOverlay(c.imagePath, partial, size);
      await withRawView(partial, size, c.label, async (raw) => {
        await grow(raw);
        await writeFiles(raw, c);
      });
    } else {
      // A reflink shares blocks where the filesystem can (btrfs, XFS); elsewhere a sparse copy.
      await run('cp', ['--reflink=auto', '--sparse=always', c.imagePath, partial]);
      await truncate(partial, size);
      await grow(partial);
      await writeFiles(partial, c);
    }
    await rename(partial, path);
    return { path, format: c.format };
  } catch (err) {
    await rm(partial, { force: true });
    throw err;
  }
}

/**
 * A qcow2 file over a raw image: reads fall through to the image, writes stay in the overlay,
 * so any number of VMs share one image file. `sizeBytes` defaults to the image's size.
 */
export async function createOverlay(
  imagePath: string,
  overlayPath: string,
  sizeBytes?: number,
): Promise<void> {
  await run('qemu-img', [
    'create',
    '-q',
    '-f',
    'qcow2',
    '-F',
    'raw',
    '-b',
    imagePath,
    overlayPath,
    ...(sizeBytes !== undefined ? [String(sizeBytes)] : []),
  ]);
}

/**
 * The image's grown base for `size` (see RootDiskRequest.grownBaseDir): an overlay whose
 * filesystem fills `size`, so that a disk copied from it needs no resize of its own. Made on
 * first use, in the VM's directory (a create killed meanwhile leaves it with the VM), then
 * renamed into place; `own` when it could not be (the caller removes it after its copy).
 */
async function grownBase(
  c: RootDiskConfig,
  dir: string,
  size: number,
): Promise<{ path: string; own: boolean }> {
  const path = join(dir, `grown-${size}.qcow2`);
  // One made for this image at another path (a data directory moved) would send new disks to
  // an image that is not there any more; it is made again.
  if (await isOverlayOf(path, c.imagePath, size)) return { path, own: false };
  const made = join(c.vmDir, 'grown-base.qcow2.partial');
  try {
    await createOverlay(c.imagePath, made, size);
    await withRawView(made, size, c.label, grow);
  } catch (err) {
    await rm(made, { force: true });
    throw err;
  }
  // Another create may have made the same base meanwhile; either is right.
  return rename(made, path).then(
    () => ({ path, own: false }),
    () => ({ path: made, own: true }),
  );
}

/** Whether `file` is a qcow2 overlay of `backing` with a virtual size of `size` bytes. */
async function isOverlayOf(file: string, backing: string, size: number): Promise<boolean> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => undefined);
  if (fh === undefined) return false;
  try {
    const head = Buffer.alloc(4096);
    const { bytesRead } = await fh.read(head, 0, head.length, 0);
    // The qcow2 header: magic, version, backing file offset (8) and length (16), size (24).
    if (bytesRead < 32 || head.readUInt32BE(0) !== QCOW2_MAGIC) return false;
    const offset = Number(head.readBigUInt64BE(8));
    const length = head.readUInt32BE(16);
    if (head.readBigUInt64BE(24) !== BigInt(size) || offset + length > bytesRead) return false;
    return head.toString('utf8', offset, offset + length) === backing;
  } finally {
    await fh.close();
  }
}

const QCOW2_MAGIC = 0x514649fb;

/**
 * Grows the filesystem to fill the disk. The image's filesystem is written whole by the import's
 * ext4 writer and never mounted on the host, so it is known clean: -f skips the full e2fsck pass
 * resize2fs would otherwise insist on, which costs most of a create's time and grows with the
 * image's size.
 */
async function grow(raw: string): Promise<void> {
  await run('resize2fs', ['-f', raw]);
}

/**
 * Writes the VM's files and the kernel's modules. What debugfs reads them from is staged in the
 * VM's directory, not the host's temp directory: a create killed meanwhile leaves it with the VM,
 * whose removal takes it, instead of copies of the VM's files nothing would ever remove.
 */
async function writeFiles(raw: string, c: RootDiskConfig): Promise<void> {
  const work = await mkdtemp(join(c.vmDir, 'root-disk-files-'));
  try {
    const batches = [await guestFilesBatch(c.files, work, c.label)];
    if (c.modules !== undefined) batches.push(await guestModulesBatch(c.modules, work, c.label));
    await applyDebugfsBatches(raw, work, batches, c.label);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** The files every VM gets: hostname, hosts, resolv.conf, authorized_keys, and --copy-files. */
export function vmGuestFiles(v: {
  hostname: string;
  nameservers: string[];
  authorizedKeys: string[];
  copyFiles: { hostPath: string; vmPath: string }[];
}): GuestFile[] {
  const files: GuestFile[] = [
    { guestPath: '/etc/hostname', content: `${v.hostname}\n`, mode: 0o644 },
    {
      guestPath: '/etc/hosts',
      content: `127.0.0.1\tlocalhost\n127.0.1.1\t${v.hostname}\n::1\tlocalhost ip6-localhost ip6-loopback\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n`,
      mode: 0o644,
    },
  ];
  if (v.nameservers.length > 0) {
    files.push({
      guestPath: '/etc/resolv.conf',
      content: v.nameservers.map((n) => `nameserver ${n}\n`).join(''),
      mode: 0o644,
    });
  }
  if (v.authorizedKeys.length > 0) {
    files.push({
      guestPath: '/root/.ssh/authorized_keys',
      content: `${v.authorizedKeys.join('\n')}\n`,
      mode: 0o600,
    });
  }
  for (const f of v.copyFiles) files.push({ guestPath: f.vmPath, hostPath: f.hostPath });
  return files;
}
