/**
 * The files of named volumes: a sparse file of the volume's size, formatted ext4 or left raw.
 * The storage layout says where (`<dataDir>/volume/<uid>/volume.img`).
 */
export interface VolumeFiles {
  /**
   * Makes the sparse file at `path` (its directory created), then runs `mkfs.ext4 -F` on it for
   * `ext4`. Nothing is left at `path` when it fails.
   */
  create(path: string, sizeBytes: number, format: 'ext4' | 'raw', label: string): Promise<void>;
  /**
   * Replays the journal of the ext4 at `path` and fixes what `e2fsck -p` fixes unasked: a volume
   * left dirty by a VM that was killed cannot be mounted read-only by the next, whose device is
   * read-only too. Only for a file no running VM has attached.
   */
  recover(path: string, label: string): Promise<void>;
  /** Removes the volume's directory and all in it. Idempotent. */
  removeDir(dir: string): Promise<void>;
}
