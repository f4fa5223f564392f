/**
 * A kernel's modules to write into a VM's root disk: the tar written at the kernel's import
 * (entries `<release>/…`, owners and modes as in the image), of which `<release>/` goes to
 * `/lib/modules/<release>`.
 */
export interface GuestModules {
  tarPath: string;
  release: string;
}

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
  /** Lines added to the image's `/etc/fstab`: the VM's volumes and shared directories. */
  fstab?: string[];
  /** Directories made in the root disk for the guest to mount on. */
  mountPoints?: string[];
  /** The guest's resolvers for /etc/resolv.conf; the host's when absent. */
  nameservers?: string[];
  /** The kernel's modules, written in with the VM's files; none when absent. */
  modules?: GuestModules;
  /**
   * Where this image's grown bases may be kept (qcow2 only): overlays of the image with its
   * filesystem grown to a disk size, made by the first VM of that size and copied by the next.
   * Without it, every disk is grown on its own.
   */
  grownBaseDir?: string;
  /**
   * A snapshot's frozen disk to clone instead (qcow2 only): the VM's disk is an empty overlay
   * over it, and nothing is written into it.
   */
  over?: string;
  /** `vm "web"`: leads error messages. */
  label: string;
}

/** Root disks as the use cases see them (the disk itself is described in root-disk.ts). */
export interface RootDisks {
  /** Builds the VM's root disk in its directory, with the VM's files written into it. */
  create(req: RootDiskRequest): Promise<void>;
  /**
   * Whether the image's filesystem has `guestPath` (symlinks on the way followed inside it, as
   * the guest would), read without mounting it.
   */
  imageHas(imagePath: string, guestPath: string): Promise<boolean>;
  /**
   * Takes down what a killed create left attached to a root disk (a FUSE raw view), so its
   * directory can be removed. Idempotent.
   */
  release(vmDir: string): Promise<void>;
}
