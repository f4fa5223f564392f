import { basename, join } from 'node:path';
import { ROOT_DISK_QCOW2, ROOT_DISK_RAW } from '../../src/storage/layout.js';
import type { RootDiskRequest, RootDisks } from '../../src/vmm/disk/root-disks.js';
import type { FakeRuntimeFiles } from './fake-runtime-files.js';

/**
 * Root disks as entries of FakeRuntimeFiles: create records the request and makes the disk
 * findable for the VM whose directory it names; release records the directory.
 */
export class FakeRootDisks implements RootDisks {
  readonly requests: RootDiskRequest[] = [];
  readonly released: string[] = [];
  fail?: Error;
  /** What the images hold, as `<image path>:<guest path>`: see `imageHas`. */
  readonly imagePaths = new Set<string>();

  constructor(private readonly runtimeFiles: FakeRuntimeFiles) {}

  create(req: RootDiskRequest): Promise<void> {
    this.requests.push(structuredClone(req));
    if (this.fail !== undefined) return Promise.reject(this.fail);
    const raw = req.format === 'raw';
    this.runtimeFiles.rootDisks.set(basename(req.vmDir), {
      path: join(req.vmDir, raw ? ROOT_DISK_RAW : ROOT_DISK_QCOW2),
      format: req.format,
    });
    return Promise.resolve();
  }

  imageHas(imagePath: string, guestPath: string): Promise<boolean> {
    return Promise.resolve(this.imagePaths.has(`${imagePath}:${guestPath}`));
  }

  release(vmDir: string): Promise<void> {
    this.released.push(vmDir);
    return Promise.resolve();
  }
}
