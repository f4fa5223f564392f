import { mkdir, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError, failedPrecondition, toAppError } from '../errors.js';
import { run, runUnchecked } from './exec.js';
import type { VolumeFiles } from './volume-files.js';

/** Volume files on the host's filesystem, formatted with e2fsprogs' mkfs.ext4. */
export const fsVolumeFiles: VolumeFiles = {
  async create(path, sizeBytes, format, label) {
    await mkdir(dirname(path), { recursive: true });
    try {
      // Truncating an empty file to the size allocates nothing: the file stays sparse.
      const file = await open(path, 'wx', 0o600);
      try {
        await file.truncate(sizeBytes);
      } finally {
        await file.close();
      }
      if (format === 'ext4') await run('mkfs.ext4', ['-F', '-q', '-E', 'nodiscard', path]);
    } catch (err) {
      await rm(path, { force: true });
      if (AppError.is(err))
        throw new AppError(err.code, `${label}: ${err.message}`, { cause: err });
      throw toAppError(err, label);
    }
  },
  async recover(path, label) {
    // 0: clean, 1: errors fixed; 4 and up: problems a preen must not fix alone.
    const r = await runUnchecked('e2fsck', ['-p', path]);
    if (r.exitCode >= 4)
      throw failedPrecondition(
        `${label}: its filesystem needs repair (e2fsck exit ${r.exitCode}): ${r.stdout.trim().split('\n').pop() ?? ''}`,
        { hint: `stop the VMs that use it, then run: e2fsck -f ${path}` },
      );
  },
  removeDir: (dir) => rm(dir, { recursive: true, force: true }),
};
