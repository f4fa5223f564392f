/**
 * Where an import builds its files before they are stored: a private directory per import, and
 * the moves that hand finished files to the stored object. A test keeps it in memory.
 */
export interface ImportWorkspace {
  /**
   * Runs `fn` with a fresh private directory, removed afterwards. Directories that imports whose
   * process is gone left behind are removed first.
   */
  withDir<T>(fn: (dir: string) => Promise<T>): Promise<T>;
  /** Removes what imports whose process is gone left behind. */
  sweep(): Promise<void>;
  /** Makes `to` the same file as `from`: a hard link where possible, else a copy. */
  share(from: string, to: string): Promise<void>;
  /**
   * Creates `dir` (which must not exist yet) for the object the import in `work` is about to
   * store, and notes it there: if the import's process dies before the object is stored, a later
   * sweep removes `dir` unless it holds a stored object by then.
   */
  claim(work: string, dir: string): Promise<void>;
  /** Moves a finished file to its place, creating the directory it goes in. */
  moveInto(from: string, to: string): Promise<void>;
  /** Removes a file, or a directory with everything in it. */
  remove(path: string): Promise<void>;
  /** The size of a file in bytes. */
  size(path: string): Promise<number>;
  /** Whether an import argument names a file or directory rather than a registry reference. */
  isLocalSource(arg: string): Promise<boolean>;
  /** Whether `path` is a regular file (an archive) rather than a directory (an OCI layout). */
  isFile(path: string): Promise<boolean>;
}
