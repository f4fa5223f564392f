// One of several processes that update a VM and list the store at once through the listing
// cache (src/storage/fs-listing-cache.test.ts). Exits 1 when a listing misses its own last write.
// Usage: node --import tsx listing-cache-worker.ts <dataDir> <uid> <rounds>
import {
  FsListingCache,
  FsRawStorage,
  GenericStorage,
  Serializer,
} from '../../src/storage/index.js';
import { vm } from './objects.js';

const [dataDir = '', uid = '', roundsArg = '0'] = process.argv.slice(2);
const storage = new FsListingCache(
  new GenericStorage(new FsRawStorage(dataDir), new Serializer()),
  dataDir,
  'test-decoder',
);
for (let round = 0; round < Number(roundsArg); round++) {
  const v = vm(`worker-${uid}`);
  v.metadata.uid = uid;
  v.metadata.labels = { round: String(round) };
  await storage.set(v);
  const mine = (await storage.list('VM')).find((o) => o.metadata.uid === uid);
  if (mine?.metadata.labels?.['round'] !== String(round)) {
    process.stderr.write(`round ${round}: listed ${JSON.stringify(mine?.metadata.labels)}\n`);
    process.exit(1);
  }
}
