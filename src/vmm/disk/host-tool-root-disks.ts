import { join } from 'node:path';
import { invalidArgument } from '../../errors.js';
import { ROOT_DISK_QCOW2 } from '../../storage/layout.js';
import { createRootDisk, vmGuestFiles } from './create-root-disk.js';
import { createCloneOverlay } from './overlay-snapshot.js';
import { releaseRawViews } from './fuse-export.js';
import { imageHasPath } from './modules-writer.js';
import { readGuestFile } from './debugfs-writer.js';
import type { RootDiskRequest, RootDisks } from './root-disks.js';

/**
 * Root disks built with the host's tools (qemu-img, resize2fs, debugfs, qemu-storage-daemon),
 * whose guests resolve names with `nameservers`.
 */
export class HostToolRootDisks implements RootDisks {
  constructor(private readonly nameservers: readonly string[]) {}

  async create(req: RootDiskRequest): Promise<void> {
    if (req.over !== undefined) {
      if (req.format !== 'qcow2')
        throw invalidArgument(`${req.label}: only a qcow2 disk can go over a snapshot's`);
      return createCloneOverlay(req.over, join(req.vmDir, ROOT_DISK_QCOW2), req.label);
    }
    const files = vmGuestFiles({
      hostname: req.hostname,
      nameservers: req.nameservers ?? [...this.nameservers],
      authorizedKeys: req.authorizedKeys,
      copyFiles: req.copyFiles,
    });
    for (const dir of req.mountPoints ?? []) files.push({ guestPath: dir, directory: true });
    if ((req.fstab ?? []).length > 0) {
      // The image's own lines are kept; the VM's come after them.
      const own = await imageFstab(req.imagePath);
      const lines = [...(own === '' ? [] : [own.replace(/\n*$/, '')]), ...(req.fstab ?? [])];
      files.push({ guestPath: '/etc/fstab', content: `${lines.join('\n')}\n`, mode: 0o644 });
    }
    await createRootDisk({
      imagePath: req.imagePath,
      vmDir: req.vmDir,
      format: req.format,
      sizeBytes: req.sizeBytes,
      label: req.label,
      ...(req.modules !== undefined ? { modules: req.modules } : {}),
      ...(req.grownBaseDir !== undefined ? { grownBaseDir: req.grownBaseDir } : {}),
      files,
    });
  }

  imageHas(imagePath: string, guestPath: string): Promise<boolean> {
    return imageHasPath(imagePath, guestPath);
  }

  release(vmDir: string): Promise<void> {
    return releaseRawViews(vmDir);
  }
}

/** The image's `/etc/fstab`, or '' when it has none. */
async function imageFstab(imagePath: string): Promise<string> {
  if (!(await imageHasPath(imagePath, '/etc/fstab'))) return '';
  return readGuestFile(imagePath, '/etc/fstab');
}
