import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newUID, type APIObject, type DecodeOptions } from '../api/index.js';
import { vm } from '../../test/helpers/objects.js';
import { CachedStorage } from './cache.js';
import { MemoryRawStorage } from './memory-raw-storage.js';
import { Serializer } from './serializer.js';
import { GenericStorage } from './storage.js';

class CountingSerializer extends Serializer {
  decoded = 0;
  override decode(data: Buffer | string, options?: DecodeOptions): APIObject {
    this.decoded++;
    return super.decode(data, options);
  }
}

test('a listing copies nothing the first time, keeps copies of what it lists again, and never hands out its own', async () => {
  const serializer = new CountingSerializer();
  const cache = new CachedStorage(new GenericStorage(new MemoryRawStorage(), serializer));
  const uids: string[] = [];
  for (const name of ['a', 'b', 'c']) {
    const v = vm(name);
    v.metadata.uid = newUID();
    uids.push(v.metadata.uid);
    await cache.set(v);
  }
  const decodedBy = async (fn: () => Promise<unknown>) => {
    const before = serializer.decoded;
    await fn();
    return serializer.decoded - before;
  };
  assert.equal(await decodedBy(() => cache.list('VM')), 3, 'first listing decodes all');
  assert.equal(await decodedBy(() => cache.list('VM')), 3, 'seen once: decoded again, then kept');
  assert.equal(await decodedBy(() => cache.list('VM')), 0, 'kept copies are reused');

  const [first] = await cache.list('VM');
  if (first) first.spec.cpus = 99;
  assert.notEqual((await cache.list('VM'))[0]?.spec.cpus, 99, 'callers get copies');

  const changed = await cache.get('VM', uids[1] ?? '');
  changed.spec.cpus = 3;
  await cache.set(changed);
  assert.equal(await decodedBy(() => cache.list('VM')), 1, 'only the rewritten object is decoded');
  assert.equal((await cache.list('VM')).find((v) => v.metadata.uid === uids[1])?.spec.cpus, 3);
});

test('a known object stands for its checksum: used without a decode while stored, not after a write', async () => {
  for (const layered of [false, true]) {
    const what = layered ? 'cached' : 'generic';
    // A store with one VM, and the VM as another process read it (no copy in this cache).
    const fresh = async () => {
      const serializer = new CountingSerializer();
      const generic = new GenericStorage(new MemoryRawStorage(), serializer);
      const storage = layered ? new CachedStorage(generic) : generic;
      const v = vm('web');
      v.metadata.uid = newUID();
      await storage.set(v);
      const uid = v.metadata.uid;
      const checksum = (await generic.checksum('VM', uid)) ?? '';
      const obj = await generic.get('VM', uid);
      const known = { checksum, obj: { ...obj, metadata: { ...obj.metadata, name: 'as-known' } } };
      return { serializer, storage, uid, obj, known };
    };

    const a = await fresh();
    const decoded = a.serializer.decoded;
    assert.equal((await a.storage.get('VM', a.uid, a.known)).metadata.name, 'as-known', what);
    assert.equal(a.serializer.decoded, decoded, `no decode (${what})`);

    const b = await fresh();
    const other = { ...b.known, obj: { ...b.known.obj, metadata: { ...b.known.obj.metadata } } };
    other.obj.metadata.uid = newUID();
    assert.equal(
      (await b.storage.get('VM', b.uid, other)).metadata.name,
      'web',
      `another uid (${what})`,
    );

    const c = await fresh();
    await c.storage.set({ ...c.obj, spec: { ...c.obj.spec, cpus: 2 } });
    const after = await c.storage.get('VM', c.uid, c.known);
    assert.equal(after.metadata.name, 'web', `a write since: read from the store (${what})`);
    assert.equal(after.spec.cpus, 2);
  }
});
