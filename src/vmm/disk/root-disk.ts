import type { GuestModules } from './root-disks.js';

/**
 * A VM's root disk: copy-on-write over its image's ext4 file, grown to the VM's disk size, with
 * the VM's own files (hostname, hosts, resolv.conf, SSH keys, --copy-files) written in before it
 * boots — without mounting anything. QEMU gets a qcow2 overlay (`<vmDir>/rootfs.qcow2`, a few
 * hundred KiB: the image is never copied); Firecracker, which takes only raw disks, gets a
 * reflinked or sparse copy (`<vmDir>/rootfs.ext4`).
 */
export interface GuestFile {
  /** Absolute path in the guest. */
  guestPath: string;
  content?: string | Buffer;
  /** A directory (with its parents) instead of a file: `content` and `hostPath` are unused. */
  directory?: boolean;
  /** A host file to copy instead of `content`. */
  hostPath?: string;
  /** Default: the host file's mode for `hostPath`, else 0644. */
  mode?: number;
  uid?: number;
  gid?: number;
}

export interface RootDiskConfig {
  imagePath: string;
  vmDir: string;
  format: 'qcow2' | 'raw';
  sizeBytes: number;
  files: GuestFile[];
  /** See RootDiskRequest.grownBaseDir. */
  grownBaseDir?: string;
  /** The kernel's modules, for `/lib/modules/<release>`. */
  modules?: GuestModules;
  /** `vm "web"`: leads error messages. */
  label: string;
}

export interface RootDisk {
  path: string;
  format: 'qcow2' | 'raw';
}
