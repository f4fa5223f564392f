import { randomBytes } from 'node:crypto';
import {
  appendFile,
  copyFile,
  link,
  lstat,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  stat,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { METADATA_FILE } from '../storage/layout.js';
import type { ImportWorkspace } from './import-workspace.js';

/** In an import's directory: the object directories it made, one per line. */
const CLAIMS = '.claims';

/** What the workspace asks of the host's processes. */
export interface WorkspaceProcesses {
  /** This process's ID, which names its directories. */
  pid: number;
  isAlive(pid: number): boolean;
}

/**
 * Import directories under `<dataDir>/.staging`, each named `<pid>-<random>` after the process
 * that made it, so a later import can tell an abandoned one (its process is gone) and remove it.
 */
export class FsImportWorkspace implements ImportWorkspace {
  constructor(
    private readonly base: string,
    private readonly processes: WorkspaceProcesses,
  ) {}

  async withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
    await mkdir(this.base, { recursive: true, mode: 0o700 });
    const dir = join(this.base, `${this.processes.pid}-${randomBytes(4).toString('hex')}`);
    await mkdir(dir, { mode: 0o700 });
    try {
      return await fn(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async sweep(): Promise<void> {
    for (const name of await readdir(this.base).catch((): string[] => [])) {
      const pid = Number(name.split('-')[0]);
      if (this.processes.isAlive(pid)) continue;
      await this.dropUnstoredClaims(join(this.base, name));
      await rm(join(this.base, name), { recursive: true, force: true });
    }
  }

  /** An object directory whose import died before storing the object holds files of no one's. */
  private async dropUnstoredClaims(work: string): Promise<void> {
    const claims = await readFile(join(work, CLAIMS), 'utf8').catch(() => '');
    for (const dir of claims.split('\n').filter((l) => l !== '')) {
      const stored = await lstat(join(dir, METADATA_FILE)).then(
        () => true,
        () => false,
      );
      if (!stored) await rm(dir, { recursive: true, force: true });
    }
  }

  async claim(work: string, dir: string): Promise<void> {
    // Made before it is noted, so a note never names a directory someone else made; a death
    // between the two leaves an empty directory, which the store's own sweep removes.
    await mkdir(dirname(dir), { recursive: true, mode: 0o700 });
    await mkdir(dir, { mode: 0o700 });
    await appendFile(join(work, CLAIMS), `${dir}\n`, { mode: 0o600 });
  }

  async share(from: string, to: string): Promise<void> {
    await link(from, to).catch(() => copyFile(from, to));
  }

  async moveInto(from: string, to: string): Promise<void> {
    await mkdir(dirname(to), { recursive: true, mode: 0o700 });
    await rename(from, to);
  }

  async remove(path: string): Promise<void> {
    await rm(path, { recursive: true, force: true });
  }

  async size(path: string): Promise<number> {
    return (await stat(path)).size;
  }

  async isLocalSource(arg: string): Promise<boolean> {
    if (!/^(\/|\.\/|\.\.\/)/.test(arg) && !arg.endsWith('.tar')) return false;
    return lstat(arg).then(
      () => true,
      () => false,
    );
  }

  async isFile(path: string): Promise<boolean> {
    return (await lstat(path)).isFile();
  }
}
