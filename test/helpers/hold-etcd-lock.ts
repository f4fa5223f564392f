// Child process for the etcd lock test: takes a kind's lock on an etcd store, says so, and holds it
// until killed.
import { EtcdRawStorage } from '../../src/storage/index.js';

const [endpoints = '', root = '/ignite/', ttl = '5'] = process.argv.slice(2);
const raw = new EtcdRawStorage({
  endpoints: endpoints.split(','),
  root,
  leaseTTLSeconds: Number(ttl),
});
await raw.withLock('VM', async () => {
  process.stdout.write('locked\n');
  await new Promise(() => setInterval(() => undefined, 60_000));
});
