import type { StateFiles } from '../../src/vmm/state-files.js';

/** Saved states and overlays as names in sets; paths are only keys here. */
export class FakeStateFiles implements StateFiles {
  /** Complete states, by the path of their main file. */
  readonly states = new Set<string>();
  /** What adoptOverlay was asked, in order. */
  readonly adopted: { rootDisk: string; current: string; superseded: string[] }[] = [];
  readonly removedDirs: string[] = [];
  /** What dirUsage answers. */
  usage = 0;

  has(file: string): Promise<boolean> {
    return Promise.resolve(this.states.has(file));
  }

  remove(file: string): Promise<void> {
    this.states.delete(file);
    return Promise.resolve();
  }

  link(from: string, to: string): Promise<void> {
    if (!this.states.has(from)) return Promise.reject(new Error(`${from}: no state`));
    this.states.add(to);
    return Promise.resolve();
  }

  adoptOverlay(rootDisk: string, current: string, superseded: readonly string[]): Promise<void> {
    this.adopted.push({ rootDisk, current, superseded: [...superseded] });
    return Promise.resolve();
  }

  dirUsage(): Promise<number> {
    return Promise.resolve(this.usage);
  }

  removeDir(dir: string): Promise<void> {
    this.removedDirs.push(dir);
    return Promise.resolve();
  }
}
