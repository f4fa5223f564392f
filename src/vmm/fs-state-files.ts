import { link, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition } from '../errors.js';
import { removeSavedState, SIDECAR_SUFFIX, type StateSidecar } from './saved-state.js';
import type { StateFiles } from './state-files.js';

/** StateFiles on the data directory's filesystem. */
export const fsStateFiles: StateFiles = {
  has(file) {
    return stat(`${file}${SIDECAR_SUFFIX}`).then(
      (s) => s.isFile(),
      () => false,
    );
  },

  remove(file) {
    return removeSavedState(file);
  },

  async link(from, to) {
    const sidecar = JSON.parse(
      await readFile(`${from}${SIDECAR_SUFFIX}`, 'utf8'),
    ) as Partial<StateSidecar>;
    await removeSavedState(to);
    try {
      for (const part of sidecar.parts ?? [])
        await link(`${from}${part.suffix}`, `${to}${part.suffix}`);
      await link(`${from}${SIDECAR_SUFFIX}`, `${to}${SIDECAR_SUFFIX}`);
    } catch (err) {
      await removeSavedState(to);
      throw failedPrecondition(
        `saved state ${from}: cannot link it as ${to}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  },

  async adoptOverlay(rootDisk, current, superseded) {
    if (current === rootDisk) return;
    for (const name of superseded) if (name !== rootDisk) await rm(name, { force: true });
    await rename(current, rootDisk);
  },

  async dirUsage(dir) {
    const names = await readdir(dir).catch(() => [] as string[]);
    let total = 0;
    for (const name of names) {
      const s = await stat(join(dir, name)).catch(() => undefined);
      if (s?.isFile()) total += s.blocks * 512;
    }
    return total;
  },

  removeDir(dir) {
    return rm(dir, { recursive: true, force: true });
  },
};
