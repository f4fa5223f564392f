import { createRootDisk, vmGuestFiles } from './create-root-disk.js';
import { releaseRawViews } from './fuse-export.js';
import { imageHasPath } from './modules-writer.js';
import type { RootDiskRequest, RootDisks } from './root-disks.js';

/**
 * Root disks built with the host's tools (qemu-img, resize2fs, debugfs, qemu-storage-daemon),
 * whose guests resolve names with `nameservers`.
 */
export class HostToolRootDisks implements RootDisks {
  constructor(private readonly nameservers: readonly string[]) {}

  async create(req: RootDiskRequest): Promise<void> {
    await createRootDisk({
      imagePath: req.imagePath,
      vmDir: req.vmDir,
      format: req.format,
      sizeBytes: req.sizeBytes,
      label: req.label,
      ...(req.modules !== undefined ? { modules: req.modules } : {}),
      files: vmGuestFiles({
        hostname: req.hostname,
        nameservers: [...this.nameservers],
        authorizedKeys: req.authorizedKeys,
        copyFiles: req.copyFiles,
      }),
    });
  }

  imageHas(imagePath: string, guestPath: string): Promise<boolean> {
    return imageHasPath(imagePath, guestPath);
  }

  release(vmDir: string): Promise<void> {
    return releaseRawViews(vmDir);
  }
}
