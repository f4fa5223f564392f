/**
 * The hypervisor seam. A driver turns a VMConfig into a running microVM and controls it. The
 * per-VM supervisor (ignite-spawn) is the only caller of `start`: it owns the returned
 * RunningVM for the VM's whole life, so the hypervisor is always its child process.
 *
 * Drivers: QEMU `microvm` (src/vmm/qemu/), and Firecracker (src/vmm/firecracker/) where its binary
 * is installed. Both pass test/suites/vmm-driver.suite.ts.
 */
export type VMMName = 'qemu' | 'firecracker';

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
  /** Tap devices, already created by the network layer, in `netns`. */
  nics: { tapName: string; mac: string }[];
  /** The named network namespace the hypervisor runs in (where the taps are); none: the host's. */
  netns?: string;
  /** Cap of the console log before it is rotated (default 10 MiB). */
  consoleLogMaxBytes?: number;
  /** Files of the running VM, all inside the VM's directory. */
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
  /** Bytes and operations of the root disk, for metrics. */
  blockStats(): Promise<BlockStats>;
}

export interface Availability {
  available: boolean;
  /** Why not, when not: shown by `ignite version` and in errors. */
  reason?: string;
  version?: string;
}

export interface VMMDriver {
  readonly name: VMMName;
  /** Whether this machine can run this driver (binary present, /dev/kvm usable, …). */
  availability(): Promise<Availability>;
  /** Starts the hypervisor and boots the VM; resolves once the guest is booting. */
  start(config: VMConfig): Promise<RunningVM>;
}
