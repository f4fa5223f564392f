import { mkdir, open, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AppError, toAppError } from '../errors.js';
import { run } from './exec.js';
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
  removeDir: (dir) => rm(dir, { recursive: true, force: true }),
};
