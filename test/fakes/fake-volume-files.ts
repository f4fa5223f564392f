import type { VolumeFiles } from '../../src/system/volume-files.js';

/** Volume files in memory: each path with its size and format; `failNext` makes one create fail. */
export class FakeVolumeFiles implements VolumeFiles {
  readonly files = new Map<string, { sizeBytes: number; format: 'ext4' | 'raw' }>();
  readonly removed: string[] = [];
  failNext: Error | undefined;

  create(path: string, sizeBytes: number, format: 'ext4' | 'raw'): Promise<void> {
    const fail = this.failNext;
    this.failNext = undefined;
    if (fail !== undefined) return Promise.reject(fail);
    this.files.set(path, { sizeBytes, format });
    return Promise.resolve();
  }

  readonly recovered: string[] = [];

  recover(path: string): Promise<void> {
    this.recovered.push(path);
    return Promise.resolve();
  }

  removeDir(dir: string): Promise<void> {
    this.removed.push(dir);
    for (const p of [...this.files.keys()]) if (p.startsWith(`${dir}/`)) this.files.delete(p);
    return Promise.resolve();
  }
}
