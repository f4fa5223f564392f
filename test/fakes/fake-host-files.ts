import type { HostFiles } from '../../src/system/host-files.js';

/**
 * The host's own files in memory: `files` by path with their text, `dirs` as directories.
 * A path in `unreadable` exists but cannot be read, as a file of another user's.
 */
export class FakeHostFiles implements HostFiles {
  readonly files = new Map<string, string>();
  readonly dirs = new Set<string>();
  readonly unreadable = new Set<string>();
  readonly blockDevices = new Set<string>();

  readText(path: string): Promise<string> {
    const text = this.files.get(path);
    if (text === undefined || this.unreadable.has(path)) {
      const code = text === undefined ? 'ENOENT' : 'EACCES';
      return Promise.reject(Object.assign(new Error(`${code}: ${path}`), { code }));
    }
    return Promise.resolve(text);
  }

  isReadable(path: string): Promise<boolean> {
    return Promise.resolve(this.existsSync(path) && !this.unreadable.has(path));
  }

  exists(path: string): Promise<boolean> {
    return Promise.resolve(this.existsSync(path));
  }

  existsSync(path: string): boolean {
    return this.files.has(path) || this.dirs.has(path);
  }

  realpath(path: string): Promise<string | undefined> {
    return Promise.resolve(this.existsSync(path) ? path : undefined);
  }

  isBlockDevice(path: string): Promise<boolean> {
    return Promise.resolve(this.blockDevices.has(path));
  }

  isDirectory(path: string): Promise<boolean> {
    return Promise.resolve(this.dirs.has(path));
  }

  isFile(path: string): Promise<boolean> {
    return Promise.resolve(this.files.has(path));
  }
}
