// Writes new objects to an fs store, one after another, until it is killed
// (src/storage/raw-storage.test.ts). Prints "ready" once its first object is stored.
// Usage: node --import tsx new-objects-worker.ts <dataDir>
import { randomBytes } from 'node:crypto';
import { FsRawStorage } from '../../src/storage/fs-raw-storage.js';

const [dataDir = ''] = process.argv.slice(2);
const raw = new FsRawStorage(dataDir);
for (let n = 0; ; n++) {
  await raw.write({ kind: 'VM', uid: randomBytes(8).toString('hex') }, Buffer.from('{}'));
  if (n === 0) process.stdout.write('ready\n');
}
