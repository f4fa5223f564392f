import { join, resolve } from 'node:path';
import { isUID, kindDir, type Kind } from '../api/index.js';
import { internal } from '../errors.js';

/**
 * Every file ignite keeps under its data directory, named once:
 *
 * ```
 * <dataDir>/
 *   vm/<uid>/        metadata.json, the root disk, the SSH key pair, the console log and sockets,
 *                    the supervisor's log and run record, the metrics socket (see VMFiles)
 *   image/<uid>/     metadata.json, image.ext4
 *   kernel/<uid>/    metadata.json, vmlinux, initrd, modules.tar (the image's /lib/modules)
 *   snapshot/<uid>/  metadata.json, state, state.json (its sidecar), disk.qcow2 (see SnapshotFiles)
 *   volume/<uid>/    metadata.json, volume.img (sparse; ext4 unless made raw)
 *   network/         per-VM network state, kept apart so leftovers outlive a removed VM
 *   .staging/        imports in progress, named after their process
 *   .cache/          accel.json, host-tsc.json: what the host's probes found
 *   gitops/          clones of the repositories gitops follows
 * ```
 *
 * All of a VM lives in its directory, so removing the directory removes the VM whole; a VM
 * resumed from a snapshot also reads that snapshot's disk, which its overlay is over.
 */
export const ROOT_DISK_QCOW2 = 'rootfs.qcow2';
export const ROOT_DISK_RAW = 'rootfs.ext4';
export const IMAGE_EXT4 = 'image.ext4';
export const KERNEL_VMLINUX = 'vmlinux';
export const KERNEL_INITRD = 'initrd';
export const KERNEL_MODULES = 'modules.tar';
export const VOLUME_FILE = 'volume.img';

/** The files of one VM, all in `<dataDir>/vm/<uid>/`. */
export interface VMFiles {
  dir: string;
  rootDiskQcow2: string;
  rootDiskRaw: string;
  sshKey: string;
  sshPubKey: string;
  /** The guest's console; rotated to `console.log.1` past the VM's logMaxSize. */
  consoleLog: string;
  consoleSocket: string;
  controlSocket: string;
  /** The supervisor's log (JSON lines). */
  spawnLog: string;
  metricsSocket: string;
  /** The supervisor's record of the current run, apart from the VM's own record. */
  runRecord: string;
  /** The supervisor's requests socket (`ignite snapshot create`, `stop --save`), mode 0600. */
  supervisorSocket: string;
  /**
   * The state `stop --save` wrote (its sidecar `state.json` beside it); the next start resumes
   * from it, and a plain stop removes it.
   */
  savedState: string;
  /**
   * `rootfs.next-<n>.qcow2`: the overlays a running VM writes to after its n-th snapshot froze its
   * disk; the last becomes the root disk when it exits.
   */
  nextRootDisk(n: number): string;
}

/** The files of one snapshot, all in `<dataDir>/snapshot/<uid>/`. */
export interface SnapshotFiles {
  dir: string;
  /** The hypervisor's state, with its parts as `state.<part>`. */
  state: string;
  /** `state.json`, what the state is bound to (vmm/saved-state.ts). */
  sidecar: string;
  /** The VM's overlay at the snapshot, frozen; overlays name it by this path. */
  disk: string;
}

/** The files of a VM whose directory is `dir`. */
export function vmFiles(dir: string, uid: string): VMFiles {
  return {
    dir,
    rootDiskQcow2: join(dir, ROOT_DISK_QCOW2),
    rootDiskRaw: join(dir, ROOT_DISK_RAW),
    sshKey: join(dir, `id_${uid}`),
    sshPubKey: join(dir, `id_${uid}.pub`),
    consoleLog: join(dir, 'console.log'),
    consoleSocket: join(dir, 'console.sock'),
    controlSocket: join(dir, 'control.sock'),
    spawnLog: join(dir, 'spawn.log'),
    metricsSocket: join(dir, 'prometheus.sock'),
    runRecord: runRecordFile(dir),
    supervisorSocket: join(dir, 'supervisor.sock'),
    savedState: join(dir, 'state'),
    nextRootDisk: (n) => join(dir, `rootfs.next-${n}.qcow2`),
  };
}

/** The run record alone, for `ps`, which asks it of every VM. */
export function runRecordFile(vmDir: string): string {
  return join(vmDir, 'run.json');
}

/** The data directory's layout. Every path it gives is absolute. */
export class DataLayout {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = resolve(dataDir);
  }

  kindDir(kind: Kind): string {
    return join(this.root, kindDir(kind));
  }

  /** `<dataDir>/<kind>/<uid>`; a UID that is not one (`../x`) is refused, never joined. */
  objectDir(kind: Kind, uid: string): string {
    if (!isUID(uid)) throw internal(`${kindDir(kind)} "${uid}": not a valid uid`);
    return join(this.kindDir(kind), uid);
  }

  vm(uid: string): VMFiles {
    return vmFiles(this.objectDir('VM', uid), uid);
  }

  imageExt4(uid: string): string {
    return join(this.objectDir('Image', uid), IMAGE_EXT4);
  }

  snapshot(uid: string): SnapshotFiles {
    const dir = this.objectDir('Snapshot', uid);
    return {
      dir,
      state: join(dir, 'state'),
      sidecar: join(dir, 'state.json'),
      disk: join(dir, 'disk.qcow2'),
    };
  }

  /** A named volume's disk file; the VMs it is attached to use it in place, never a copy. */
  volumeFile(uid: string): string {
    return join(this.objectDir('Volume', uid), VOLUME_FILE);
  }

  kernelFiles(uid: string): { vmlinux: string; initrd: string; modules: string } {
    const dir = this.objectDir('Kernel', uid);
    return {
      vmlinux: join(dir, KERNEL_VMLINUX),
      initrd: join(dir, KERNEL_INITRD),
      modules: join(dir, KERNEL_MODULES),
    };
  }

  get networkDir(): string {
    return join(this.root, 'network');
  }

  /** The named networks' CNI configuration lists, `<dataDir>/cni`. */
  get networkConfDir(): string {
    return join(this.root, 'cni');
  }

  /** A named network's CNI configuration list, `<dataDir>/cni/<name>.conflist`. */
  networkConflist(name: string): string {
    return join(this.networkConfDir, `${name}.conflist`);
  }

  get stagingDir(): string {
    return join(this.root, '.staging');
  }

  get accelCache(): string {
    return join(this.root, '.cache', 'accel.json');
  }

  get tscCache(): string {
    return join(this.root, '.cache', 'host-tsc.json');
  }

  /** The running daemon's pid and start time: one ignited per data directory. */
  get daemonPidFile(): string {
    return join(this.root, 'ignited.pid');
  }

  get gitopsDir(): string {
    return join(this.root, 'gitops');
  }
}
