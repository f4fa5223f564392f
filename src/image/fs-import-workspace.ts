import { randomBytes } from 'node:crypto';
import { copyFile, link, lstat, mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ImportWorkspace } from './import-workspace.js';

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
      if (!this.processes.isAlive(pid))
        await rm(join(this.base, name), { recursive: true, force: true });
    }
  }

  async share(from: string, to: string): Promise<void> {
    await link(from, to).catch(() => copyFile(from, to));
  }

  async moveInto(from: string, to: string): Promise<void> {
    await mkdir(dirname(to), { recursive: true, mode: 0o700 });
    await rename(from, to);
  }

  async remove(path: string): Promise<void> {
    await rm(path, { force: true });
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
