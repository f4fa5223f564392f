import { join, resolve } from 'node:path';
import { isUID, kindDir, type Kind } from '../api/index.js';
import { internal } from '../errors.js';
import { hostSupervisorFiles, type HostSupervisorFiles } from './host-supervisor-files.js';

/**
 * Every file ignite keeps under its data directory, named once:
 *
 * ```
 * <dataDir>/
 *   vm/<uid>/        metadata.json, the root disk, the SSH key pair, the console log, the
 *                    supervisor's log; with no run dir also the sockets and run record (see VMFiles)
 *   image/<uid>/     metadata.json, image.ext4
 *   kernel/<uid>/    metadata.json, vmlinux, initrd, modules.tar (the image's /lib/modules)
 *   snapshot/<uid>/  metadata.json, state, state.json (its sidecar), disk.qcow2 (see SnapshotFiles)
 *   volume/<uid>/    metadata.json, volume.img (sparse; ext4 unless made raw)
 *   network/         per-VM network state, kept apart so leftovers outlive a removed VM
 *   .staging/        imports in progress, named after their process
 *   .cache/          accel.json, host-tsc.json: what the host's probes found; listing-<kind>.json,
 *                    the listing cache of a kind's decoded objects (fs-listing-cache.ts)
 *   gitops/          clones of the repositories gitops follows
 * ```
 *
 * All of a VM lives in its directory, so removing the directory removes the VM whole; a VM
 * resumed from a snapshot also reads that snapshot's disk, which its overlay is over.
 *
 * Given a run dir (an ordinary user's runtime dir), what only a live run uses — the QMP, console,
 * supervisor and metrics sockets and the run record with the supervisor's and hypervisor's pids —
 * goes in `<runDir>/<uid>/` instead, beside the VM's passt files: a 0700 dir of the user's session
 * that a reboot empties. The names stay short, since a socket's path must fit in 108 bytes.
 */
export const METADATA_FILE = 'metadata.json';
export const ROOT_DISK_QCOW2 = 'rootfs.qcow2';
export const ROOT_DISK_RAW = 'rootfs.ext4';
export const IMAGE_EXT4 = 'image.ext4';
export const KERNEL_VMLINUX = 'vmlinux';
export const KERNEL_INITRD = 'initrd';
export const KERNEL_MODULES = 'modules.tar';
export const VOLUME_FILE = 'volume.img';

/** The files of one VM, in `<dataDir>/vm/<uid>/` and, if there is a run dir, `<runDir>/<uid>/`. */
export interface VMFiles {
  dir: string;
  /** Where the sockets and run record go: `dir` itself, or the VM's dir under the run dir. */
  runDir: string;
  rootDiskQcow2: string;
  rootDiskRaw: string;
  sshKey: string;
  sshPubKey: string;
  /** The guest's console; rotated to `console.log.1` past the VM's logMaxSize. */
  consoleLog: string;
  consoleSocket: string;
  controlSocket: string;
  /** The supervisor's log of this VM (JSON lines). */
  spawnLog: string;
  /**
   * The PID of the host supervisor that supervises the VM, written when it takes the VM on and
   * removed once it is done with it: with the PID's liveness, what says the VM is supervised.
   */
  supervisedBy: string;
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

/** The files of a VM whose directory is `dir` and whose sockets go in `runDir`. */
export function vmFiles(dir: string, uid: string, runDir = dir): VMFiles {
  return {
    dir,
    runDir,
    rootDiskQcow2: join(dir, ROOT_DISK_QCOW2),
    rootDiskRaw: join(dir, ROOT_DISK_RAW),
    sshKey: join(dir, `id_${uid}`),
    sshPubKey: join(dir, `id_${uid}.pub`),
    consoleLog: join(dir, 'console.log'),
    consoleSocket: join(runDir, 'console.sock'),
    controlSocket: join(runDir, 'control.sock'),
    spawnLog: join(dir, 'spawn.log'),
    supervisedBy: join(dir, 'supervised-by'),
    metricsSocket: join(runDir, 'prometheus.sock'),
    runRecord: runRecordFile(runDir),
    supervisorSocket: join(runDir, 'supervisor.sock'),
    savedState: join(dir, 'state'),
    nextRootDisk: (n) => join(dir, `rootfs.next-${n}.qcow2`),
  };
}

/**
 * `dir/name` for an absolute, normalized `dir` and a plain `name` (no `/`, `.` or `..`): what
 * `join` gives, without its normalizing pass, which a listing pays for every object.
 */
function under(dir: string, name: string): string {
  return dir.endsWith('/') ? `${dir}${name}` : `${dir}/${name}`;
}

/** The run record in a VM's run dir. */
function runRecordFile(runDir: string): string {
  return under(runDir, 'run.json');
}

/** The data directory's layout. Every path it gives is absolute. */
export class DataLayout {
  readonly root: string;
  /** Where VMs' sockets and run records go, `<runDir>/<uid>/`; undefined: in the VM's dir. */
  readonly runDir: string | undefined;

  constructor(dataDir: string, runDir?: string) {
    this.root = resolve(dataDir);
    this.runDir = runDir !== undefined ? resolve(runDir) : undefined;
  }

  kindDir(kind: Kind): string {
    return under(this.root, kindDir(kind));
  }

  /** `<dataDir>/<kind>/<uid>`; a UID that is not one (`../x`) is refused, never joined. */
  objectDir(kind: Kind, uid: string): string {
    if (!isUID(uid)) throw internal(`${kindDir(kind)} "${uid}": not a valid uid`);
    return under(this.kindDir(kind), uid);
  }

  /** `<dataDir>/<kind>/<uid>/metadata.json`: the stored object itself. */
  metadata(kind: Kind, uid: string): string {
    return under(this.objectDir(kind, uid), METADATA_FILE);
  }

  /**
   * `<dataDir>/.cache/listing-<kind>.json`: a cache of the kind's decoded objects, each with the
   * identity of the file it was decoded from (fs-listing-cache.ts). Never the authority.
   */
  listingCache(kind: Kind): string {
    return join(this.root, '.cache', `listing-${kindDir(kind)}.json`);
  }

  vm(uid: string): VMFiles {
    return vmFiles(this.objectDir('VM', uid), uid, this.vmRunDir(uid));
  }

  /** The directory of the VM's sockets and run record (its own directory without a run dir). */
  vmRunDir(uid: string): string {
    const dir = this.objectDir('VM', uid);
    return this.runDir !== undefined ? under(this.runDir, uid) : dir;
  }

  /** The run record alone, for `ps`, which asks it of every VM. */
  runRecord(uid: string): string {
    return runRecordFile(this.vmRunDir(uid));
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

  /** The host supervisor's socket, pid file and log (host-supervisor-files.ts). */
  get hostSupervisor(): HostSupervisorFiles {
    return hostSupervisorFiles(this.root, this.runDir);
  }

  get hostSupervisorSocket(): string {
    return this.hostSupervisor.socket;
  }

  get hostSupervisorPidFile(): string {
    return this.hostSupervisor.pidFile;
  }

  get hostSupervisorLog(): string {
    return this.hostSupervisor.log;
  }

  /** The running daemon's pid and start time: one ignited per data directory. */
  get daemonPidFile(): string {
    return join(this.root, 'ignited.pid');
  }

  get gitopsDir(): string {
    return join(this.root, 'gitops');
  }
}
