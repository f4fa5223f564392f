/** What the use cases ask of the host they run on; read once, so a test can be any host. */
export interface HostFacts {
  /** Whether this process runs as root (network namespaces, bridges and taps need it). */
  isRoot: boolean;
  /** The effective user ID, or -1 where the platform has none. */
  uid: number;
  /** This process's ID: a supervisor records it, and staging directories are named after it. */
  pid: number;
  /** Node's version, such as `v20.19.0`. */
  nodeVersion: string;
  /** `<platform>/<arch>`, such as `linux/x64`. */
  platform: string;
  /** Whether `/dev/kvm` exists (for `ignite version`). */
  hasKVMDevice(): boolean;
  /** The machine's CPUs and memory in bytes: a fleet host's capacity unless told otherwise. */
  cpus: number;
  memoryBytes: number;
}
