/**
 * The files of saved states and frozen disks that the use cases move around, apart from the
 * hypervisor: the supervisor and `ignite snapshot` name them (storage/layout.ts), this port
 * touches them. A state is `<file>`, its parts `<file><suffix>` and its sidecar `<file>.json`
 * (saved-state.ts).
 */
export interface StateFiles {
  /** Whether a complete state is at `file`: its sidecar, written last, is there. */
  has(file: string): Promise<boolean>;
  /** Removes the state at `file`, every part and the sidecar, complete or not. Idempotent. */
  remove(file: string): Promise<void>;
  /**
   * Gives the state at `from` a second name `to` (hard links, nothing copied; the sidecar
   * last), so that either can be removed without the other.
   */
  link(from: string, to: string): Promise<void>;
  /**
   * After a hypervisor whose disk was frozen has exited: `current`, the overlay it last wrote
   * to, becomes `rootDisk`, and the names it wrote to before (`superseded`, frozen and linked
   * into snapshots) go.
   */
  adoptOverlay(rootDisk: string, current: string, superseded: readonly string[]): Promise<void>;
  /** The disk space the files in `dir` take (0 for none). */
  dirUsage(dir: string): Promise<number>;
  /** Removes a snapshot's directory, whole. Idempotent. */
  removeDir(dir: string): Promise<void>;
}
