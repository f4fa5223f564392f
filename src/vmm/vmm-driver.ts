/**
 * The hypervisor seam. A driver turns a VMConfig into a running microVM and controls it. The
 * per-VM supervisor (ignite-spawn) is the only caller of `start`: it owns the returned
 * RunningVM for the VM's whole life, so the hypervisor is always its child process.
 *
 * Drivers: QEMU `microvm` (src/vmm/qemu/), and Firecracker (src/vmm/firecracker/) where its binary
 * is installed. Both pass test/suites/vmm-driver.suite.ts.
 *
 * Snapshots (docs/snapshots.md), where `capabilities()` says so:
 * @example
 * await vm.pause();
 * await vm.freezeRootDisk(`${snapDir}/disk.qcow2`, `${vmDir}/rootfs-2.qcow2`);
 * await vm.saveState(`${snapDir}/state`);
 * await vm.resume();
 * // A clone, in its own supervisor: its own overlay over the frozen disk, the same memory.
 * await createCloneOverlay(`${snapDir}/disk.qcow2`, cloneDisk, 'vm "c1"');
 * await driver.start({ ...c1, rootDisk: { path: cloneDisk, format: 'qcow2' } }, {
 *   restoreFrom: `${snapDir}/state`,
 * });
 */
export type VMMName = 'qemu' | 'firecracker';

/** A user-mode NIC as the hypervisor sets it up (see VMConfig.userNIC). */
export type UserNICConfig =
  | { backend: 'passt'; mac: string; socket: string }
  | {
      backend: 'slirp';
      mac: string;
      forwards: {
        protocol: 'tcp' | 'udp';
        hostAddress?: string;
        hostPort: number;
        vmPort: number;
      }[];
    };

export interface VMConfig {
  uid: string;
  name: string;
  vcpus: number;
  memoryMiB: number;
  kernel: {
    /** An uncompressed ELF vmlinux (PVH-capable for QEMU microvm). */
    vmlinuxPath: string;
    initrdPath?: string;
    /**
     * The command line from the VM spec; drivers append what their machine needs (console=,
     * root=, tsc_early_khz=) and drop `ip=` from a VM without a NIC (kernel-cmdline.ts).
     */
    cmdline: string;
  };
  /** The VM's own root disk (a qcow2 overlay for QEMU, a raw sparse/reflinked file for Firecracker). */
  rootDisk: { path: string; format: 'qcow2' | 'raw' };
  /**
   * More disks after the root disk, in this order (the guest's `/dev/vdb`, `/dev/vdc`, …): named
   * volumes, host block devices and image files, attached raw, as they are.
   */
  disks?: { path: string; readOnly: boolean }[];
  /** Host directories shared over virtio-9p, mounted in the guest by `tag` (QEMU only). */
  shares?: { tag: string; path: string; readOnly: boolean }[];
  /** Tap devices, already created by the network layer, in `netns`. */
  nics: { tapName: string; mac: string }[];
  /**
   * Boot with the NICs' links down until RunningVM.releaseLinks(), for a network still being
   * made: the guest then waits for a carrier instead of sending DHCP requests nowhere. Only for a
   * driver whose `holdsLinks` is true.
   */
  linksHeld?: boolean;
  /** The named network namespace the hypervisor runs in (where the taps are); none: the host's. */
  netns?: string;
  /**
   * A NIC on an unprivileged user-mode stack instead of taps: passt's socket (QEMU
   * `-netdev stream`), or QEMU's slirp with its host forwards. Firecracker has neither.
   */
  userNIC?: UserNICConfig;
  /** Cap of the console log before it is rotated (default 10 MiB). */
  consoleLogMaxBytes?: number;
  /**
   * Files of the running VM: the logs in the VM's directory, the sockets in its run dir (the same
   * directory for root, the user's runtime dir otherwise; see storage/layout.ts). A driver may
   * make other short-lived sockets beside `controlSocket`.
   */
  paths: {
    /**
     * Everything the guest writes to its console is appended here (`ignite logs`); past
     * `consoleLogMaxBytes` it is rotated to `<consoleLog>.1`.
     */
    consoleLog: string;
    /** A unix socket that `ignite attach` connects to: console in and out. */
    consoleSocket: string;
    /** The hypervisor's control socket: QMP for QEMU, the REST API for Firecracker. */
    controlSocket: string;
    /** Where the driver may keep other files (Firecracker's metrics FIFO, logs). */
    workDir: string;
  };
}

export interface BlockStats {
  readBytes: number;
  writeBytes: number;
  readOps: number;
  writeOps: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A VM whose hypervisor process is running. */
export interface RunningVM {
  readonly pid: number;
  /** Settles when the hypervisor process has exited, for any reason. Never rejects. */
  readonly exited: Promise<ExitInfo>;
  /** Asks the guest to power off (ACPI power button or Ctrl-Alt-Del). Returns once asked. */
  shutdown(): Promise<void>;
  /** Ends the hypervisor at once. Safe to call after it has exited. */
  kill(): Promise<void>;
  /** Brings up the NICs' links of a VM started with `linksHeld`. */
  releaseLinks?(): Promise<void>;
  /** Bytes and operations of the root disk, for metrics. */
  blockStats(): Promise<BlockStats>;
  /**
   * Stops the guest's vCPUs; its memory, devices and processes stay as they are. Idempotent.
   * Rejects with FailedPrecondition where `capabilities().saveState` is unavailable.
   */
  pause(): Promise<void>;
  /** Lets a paused guest run on. Idempotent. */
  resume(): Promise<void>;
  /**
   * Pauses the VM and writes its device and memory state to `file` (see saved-state.ts: the
   * state, any companion files `<file>.<part>`, and the sidecar `<file>.json` that binds it to
   * this VM's kernel, machine and memory size). Written under temporary names and renamed once
   * complete, sidecar last: a crash mid-save leaves no state that a start would trust. The VM
   * stays paused: `resume()` lets it go on, `kill()` ends it; saving again before a resume()
   * fails with FailedPrecondition (QEMU lets its disks go after a save). The root disk is not
   * copied: a stopped VM's disk is its state's disk, a running one's is frozen with
   * freezeRootDisk().
   */
  saveState(file: string): Promise<SavedStateInfo>;
  /**
   * Freezes the VM's root disk (a qcow2 overlay) while it runs, without copying it: the overlay
   * file is also named `frozenPath` (a hard link) and never written again, and the VM's writes
   * go to a new, empty overlay over it at `newOverlayPath`. Pause the VM first for a disk that
   * matches a saved state. The caller starts the VM on `newOverlayPath` from then on, and may
   * remove the overlay's old name once the hypervisor has exited (not before: QEMU reopens
   * files by name). Rejects with FailedPrecondition where `capabilities().freezeRootDisk` is
   * unavailable.
   */
  freezeRootDisk(frozenPath: string, newOverlayPath: string): Promise<void>;
}

/** What saveState() wrote, for metrics and the Snapshot object. */
export interface SavedStateInfo {
  /** Every file of the state, the sidecar included. */
  files: string[];
  /** Their total size. */
  bytes: number;
  /** From the pause to the renamed sidecar. */
  saveMs: number;
}

/** A feature a driver may lack; `reason` says why when it does. */
export type Capability = { available: true } | { available: false; reason: string };

export interface VMMCapabilities {
  /** RunningVM pause/resume/saveState, and start() with `restoreFrom`. */
  saveState: Capability;
  /** RunningVM.freezeRootDisk(). */
  freezeRootDisk: Capability;
}

export interface VMStartOptions {
  /**
   * A state written by saveState(): the hypervisor loads it instead of booting, and the guest
   * goes on where it was saved. The config must match what the state is bound to (kernel,
   * memory size, vCPUs, machine, NICs): else, or when a file of the state is damaged or
   * truncated, start fails with FailedPrecondition before any guest code runs, leaving no
   * process. The root disk must hold what the saved VM's disk held (the same overlay, or one
   * over the disk frozen with it).
   */
  restoreFrom?: string;
}

export interface Availability {
  available: boolean;
  /** Why not, when not: shown by `ignite version` and in errors. */
  reason?: string;
  version?: string;
}

export interface VMMDriver {
  readonly name: VMMName;
  /** Whether it can boot a VM with its links held down (VMConfig.linksHeld). */
  readonly holdsLinks?: boolean;
  /** Whether the host can run this driver (binary present, /dev/kvm usable, …). */
  availability(): Promise<Availability>;
  /** What this driver, with the installed hypervisor, can do beyond boot and stop. */
  capabilities(): Promise<VMMCapabilities>;
  /**
   * Whether this driver can boot the vmlinux at `vmlinuxPath`, judged from its ELF headers and
   * notes alone (QEMU's microvm needs a PVH entry point; Firecracker boots either). `create`
   * asks before it stores a VM, and `start` refuses what this refuses.
   */
  bootsKernel(vmlinuxPath: string): Promise<Capability>;
  /**
   * Starts the hypervisor and boots the VM, or restores it (`options.restoreFrom`); resolves
   * once the guest is booting or running again.
   */
  start(config: VMConfig, options?: VMStartOptions): Promise<RunningVM>;
}
