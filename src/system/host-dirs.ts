/** A file under a watched directory, by its path relative to the directory ('/'-separated). */
export interface DirectoryFile {
  path: string;
  text: string;
}

/** What a read of a directory found: the files it read, and those it could not, with why. */
export interface DirectoryListing {
  files: DirectoryFile[];
  unreadable: { path: string; reason: string }[];
}

export interface ReadFilesOptions {
  /** Which files to read, by their relative path; the others are not opened. */
  match: (path: string) => boolean;
  /** Files larger than this are listed as unreadable instead of read. */
  maxBytes: number;
}

/** Ends a watch; calling it again does nothing. */
export interface DirectoryWatch {
  close(): void;
}

/**
 * Directories of the host that an operator hands to ignite to follow, such as a directory of
 * manifests (`ignited daemon --manifest-dir`). Not ignite's data directory, whose files are the
 * storage layer's.
 */
export interface HostDirectories {
  /**
   * Reads the regular files under `dir`, its subdirectories included. Hidden entries (a name
   * starting with '.': editors' swap files, a Kubernetes volume's `..data`) are passed over, and
   * symlinks are followed to files but not into directories, so no loop is possible. A file that
   * vanishes while being read is left out. A directory that cannot be read throws (Unavailable):
   * a half-read directory must not look like one whose files were removed.
   */
  readFiles(dir: string, options: ReadFilesOptions): Promise<DirectoryListing>;
  /**
   * Calls `onChange` soon after anything under `dir` changes. Events can be missed (the directory
   * replaced, an event queue overflowing), so a follower also reads the directory now and then;
   * `onError` says the watch has ended and should be set up again.
   */
  watch(dir: string, onChange: () => void, onError: (err: Error) => void): DirectoryWatch;
}
