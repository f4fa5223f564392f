/**
 * The host's own files, as a use case names them: a manifest given with `--config`, a public key,
 * files to copy into a VM, directories a manifest may name. Not ignite's data directory, whose
 * files are the storage layer's.
 */
export interface HostFiles {
  readText(path: string): Promise<string>;
  /** Whether this process can read `path`. */
  isReadable(path: string): Promise<boolean>;
  /** Whether `path` exists (a symlink counts when what it names exists). */
  exists(path: string): Promise<boolean>;
  existsSync(path: string): boolean;
  /** `path` with every symlink resolved, or undefined when it does not resolve. */
  realpath(path: string): Promise<string | undefined>;
  isDirectory(path: string): Promise<boolean>;
  /** Whether `path` is a regular file (not following a final symlink). */
  isFile(path: string): Promise<boolean>;
  /** Whether `path` is a block device (a final symlink followed, as `/dev/disk/by-id/…`). */
  isBlockDevice(path: string): Promise<boolean>;
}
