/** What a new VM's root disk is built from and gets written into it. */
export interface RootDiskRequest {
  /** The image's ext4 file the disk is copy-on-write over. */
  imagePath: string;
  vmDir: string;
  format: 'qcow2' | 'raw';
  sizeBytes: number;
  hostname: string;
  authorizedKeys: string[];
  copyFiles: { hostPath: string; vmPath: string }[];
  /** `vm "web"`: leads error messages. */
  label: string;
}

/** Root disks as the use cases see them (the disk itself is described in root-disk.ts). */
export interface RootDisks {
  /** Builds the VM's root disk in its directory, with the VM's files written into it. */
  create(req: RootDiskRequest): Promise<void>;
  /**
   * Takes down what a killed create left attached to a root disk (a FUSE raw view), so its
   * directory can be removed. Idempotent.
   */
  release(vmDir: string): Promise<void>;
}
