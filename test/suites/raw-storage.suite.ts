import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawStorage } from '../../src/storage/index.js';

/** The contract of RawStorage (src/storage/raw-storage.ts), run against every implementation. */
export function rawStorageSuite(
  name: string,
  make: () => Promise<{ raw: RawStorage; cleanup: () => Promise<void> }>,
): void {
  const A = { kind: 'VM' as const, uid: '0123456789abcdef' };
  const B = { kind: 'VM' as const, uid: 'fedcba9876543210' };
  const I = { kind: 'Image' as const, uid: 'aaaaaaaaaaaaaaaa' };

  const withRaw = (fn: (raw: RawStorage) => Promise<void>) => async () => {
    const { raw, cleanup } = await make();
    try {
      await fn(raw);
    } finally {
      await cleanup();
    }
  };

  test(
    `${name}: write, read, exists`,
    withRaw(async (raw) => {
      assert.equal(await raw.exists(A), false);
      await raw.write(A, Buffer.from('one'));
      assert.equal(await raw.exists(A), true);
      assert.equal((await raw.read(A)).toString(), 'one');
      await raw.write(A, Buffer.from('two'));
      assert.equal((await raw.read(A)).toString(), 'two');
    }),
  );

  test(
    `${name}: reading a missing key is NotFound`,
    withRaw(async (raw) => {
      await assert.rejects(raw.read(A), (e: { code?: string }) => e.code === 'NotFound');
    }),
  );

  test(
    `${name}: list is per kind and sorted`,
    withRaw(async (raw) => {
      await raw.write(B, Buffer.from('b'));
      await raw.write(A, Buffer.from('a'));
      await raw.write(I, Buffer.from('i'));
      assert.deepEqual(await raw.list('VM'), [A, B]);
      assert.deepEqual(await raw.list('Image'), [I]);
      assert.deepEqual(await raw.list('Kernel'), []);
    }),
  );

  test(
    `${name}: readAll gives what list, read and checksum give, per kind and sorted`,
    withRaw(async (raw) => {
      await raw.write(B, Buffer.from('b'));
      await raw.write(A, Buffer.from('a1'));
      await raw.write(A, Buffer.from('a2'));
      await raw.write(I, Buffer.from('i'));
      const all = await raw.readAll('VM');
      assert.deepEqual(
        all.map((e) => e.key),
        await raw.list('VM'),
      );
      for (const e of all) {
        assert.deepEqual(e.data, await raw.read(e.key));
        assert.equal(e.checksum, await raw.checksum(e.key));
      }
      assert.equal(all[0]?.data.toString(), 'a2');
      await raw.delete(B);
      assert.deepEqual(
        (await raw.readAll('VM')).map((e) => e.key),
        [A],
      );
      assert.deepEqual(await raw.readAll('Kernel'), []);
    }),
  );

  test(
    `${name}: delete removes the key and is idempotent`,
    withRaw(async (raw) => {
      await raw.write(A, Buffer.from('a'));
      await raw.delete(A);
      assert.equal(await raw.exists(A), false);
      assert.deepEqual(await raw.list('VM'), []);
      await raw.delete(A);
    }),
  );

  test(
    `${name}: checksum changes on every write and is undefined when absent`,
    withRaw(async (raw) => {
      assert.equal(await raw.checksum(A), undefined);
      await raw.write(A, Buffer.from('a'));
      const c1 = await raw.checksum(A);
      await raw.write(A, Buffer.from('a'));
      const c2 = await raw.checksum(A);
      assert.ok(c1 !== undefined && c2 !== undefined);
      assert.notEqual(c1, c2);
    }),
  );

  test(
    `${name}: withLock runs holders one at a time`,
    withRaw(async (raw) => {
      let inside = 0;
      let maxInside = 0;
      await Promise.all(
        Array.from({ length: 8 }, () =>
          raw.withLock('VM', async () => {
            inside++;
            maxInside = Math.max(maxInside, inside);
            await new Promise((r) => setTimeout(r, 5));
            inside--;
          }),
        ),
      );
      assert.equal(maxInside, 1);
    }),
  );

  test(
    `${name}: a failing lock holder releases the lock`,
    withRaw(async (raw) => {
      await assert.rejects(
        raw.withLock('VM', () => Promise.reject(new Error('boom'))),
        /boom/,
      );
      assert.equal(await raw.withLock('VM', () => Promise.resolve(42)), 42);
    }),
  );
}
