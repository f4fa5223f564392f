import { createRootDisk, vmGuestFiles } from './create-root-disk.js';
import { releaseRawViews } from './fuse-export.js';
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
      files: vmGuestFiles({
        hostname: req.hostname,
        nameservers: [...this.nameservers],
        authorizedKeys: req.authorizedKeys,
        copyFiles: req.copyFiles,
      }),
    });
  }

  release(vmDir: string): Promise<void> {
    return releaseRawViews(vmDir);
  }
}
