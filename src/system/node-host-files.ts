import { constants, existsSync } from 'node:fs';
import { access, lstat, readFile, realpath, stat } from 'node:fs/promises';
import type { HostFiles } from './host-files.js';

const yes = () => true;
const no = () => false;

/** The host's files through node:fs. */
export const nodeHostFiles: HostFiles = {
  readText: (path) => readFile(path, 'utf8'),
  isReadable: (path) => access(path, constants.R_OK).then(yes, no),
  exists: (path) => access(path).then(yes, no),
  existsSync: (path) => existsSync(path),
  realpath: (path) => realpath(path).catch(() => undefined),
  isDirectory: (path) => stat(path).then((s) => s.isDirectory(), no),
  isFile: (path) => lstat(path).then((s) => s.isFile(), no),
  isBlockDevice: (path) => stat(path).then((s) => s.isBlockDevice(), no),
};
