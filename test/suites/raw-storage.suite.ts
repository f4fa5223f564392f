import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RawStorage, RawWatchEvent } from '../../src/storage/index.js';

/** One store under test; `another` opens a second client of the same store, as another process would. */
export interface RawStorageUnderTest {
  raw: RawStorage;
  cleanup: () => Promise<void>;
  another?: () => RawStorage;
}

/** The events a watch delivered, in order, and a way to wait for the next ones. */
class Recorder {
  readonly events: RawWatchEvent[] = [];
  readonly listener = (e: RawWatchEvent): void => {
    this.events.push(e);
  };

  /** The delivered events as `TYPE uid data`, once there are at least `n` (fails after 5 s). */
  async next(n: number): Promise<string[]> {
    const deadline = Date.now() + 5000;
    while (this.events.length < n && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    return this.events.map((e) => `${e.type} ${e.key.uid} ${e.data.toString()}`);
  }
}

/** The contract of RawStorage (src/storage/raw-storage.ts), run against every implementation. */
export function rawStorageSuite(name: string, make: () => Promise<RawStorageUnderTest>): void {
  const A = { kind: 'VM' as const, uid: '0123456789abcdef' };
  const B = { kind: 'VM' as const, uid: 'fedcba9876543210' };
  const I = { kind: 'Image' as const, uid: 'aaaaaaaaaaaaaaaa' };

  const withRaw =
    (fn: (raw: RawStorage, store: RawStorageUnderTest) => Promise<void>) => async () => {
      const store = await make();
      try {
        await fn(store.raw, store);
      } finally {
        await store.cleanup();
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

  test(
    `${name}: watch reports writes and deletes of its kind after it is ready, with the bytes`,
    withRaw(async (raw) => {
      await raw.write(B, Buffer.from('before'));
      const rec = new Recorder();
      const w = raw.watch('VM', rec.listener);
      try {
        await w.ready;
        await raw.write(A, Buffer.from('a1'));
        assert.deepEqual(await rec.next(1), [`ADDED ${A.uid} a1`]);
        await raw.write(I, Buffer.from('other kind'));
        await raw.write(A, Buffer.from('a2'));
        assert.deepEqual(await rec.next(2), [`ADDED ${A.uid} a1`, `MODIFIED ${A.uid} a2`]);
        await raw.delete(B);
        const all = await rec.next(3);
        assert.deepEqual(
          all.slice(2),
          [`DELETED ${B.uid} before`],
          'DELETED carries the last bytes',
        );
        const [added, modified] = rec.events;
        assert.equal(modified?.checksum, await raw.checksum(A));
        assert.notEqual(added?.checksum, modified?.checksum);
        assert.ok(rec.events.every((e) => e.key.kind === 'VM'));
      } finally {
        w.close();
      }
    }),
  );

  test(
    `${name}: watch sees the writes of another client of the same store`,
    withRaw(async (raw, store) => {
      if (store.another === undefined) return; // a store of one process has no other client
      const other = store.another();
      const rec = new Recorder();
      const w = raw.watch('VM', rec.listener);
      try {
        await w.ready;
        await other.write(A, Buffer.from('from afar'));
        assert.deepEqual(await rec.next(1), [`ADDED ${A.uid} from afar`]);
        await other.write(A, Buffer.from('again'));
        assert.deepEqual((await rec.next(2)).slice(1), [`MODIFIED ${A.uid} again`]);
        await other.delete(A);
        assert.deepEqual((await rec.next(3)).slice(2), [`DELETED ${A.uid} again`]);
      } finally {
        w.close();
      }
    }),
  );

  test(
    `${name}: a closed watch reports nothing more, and other watches go on`,
    withRaw(async (raw) => {
      const closed = new Recorder();
      const open = new Recorder();
      const w1 = raw.watch('VM', closed.listener);
      const w2 = raw.watch('VM', open.listener);
      try {
        await Promise.all([w1.ready, w2.ready]);
        await raw.write(A, Buffer.from('a'));
        await closed.next(1);
        w1.close();
        await raw.write(B, Buffer.from('b'));
        await raw.delete(A);
        assert.deepEqual(await open.next(3), [
          `ADDED ${A.uid} a`,
          `ADDED ${B.uid} b`,
          `DELETED ${A.uid} a`,
        ]);
        // Long enough for a poll that was under way at close to have finished.
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(
          closed.events.map((e) => `${e.type} ${e.key.uid}`),
          [`ADDED ${A.uid}`],
        );
      } finally {
        w1.close();
        w2.close();
      }
    }),
  );

  test(
    `${name}: a listener that throws is reported to onError and the watch goes on`,
    withRaw(async (raw) => {
      const errors: unknown[] = [];
      const rec = new Recorder();
      const w = raw.watch(
        'VM',
        (e) => {
          rec.listener(e);
          if (e.key.uid === A.uid) throw new Error('listener failed');
        },
        { onError: (err) => errors.push(err) },
      );
      try {
        await w.ready;
        await raw.write(A, Buffer.from('a'));
        await rec.next(1);
        await raw.write(B, Buffer.from('b'));
        assert.deepEqual(await rec.next(2), [`ADDED ${A.uid} a`, `ADDED ${B.uid} b`]);
        assert.match(String(errors[0]), /listener failed/);
      } finally {
        w.close();
      }
    }),
  );

  test(
    `${name}: with initial, watch first reports every object there is, sorted, before ready`,
    withRaw(async (raw) => {
      await raw.write(B, Buffer.from('b'));
      await raw.write(A, Buffer.from('a'));
      await raw.write(I, Buffer.from('i'));
      const rec = new Recorder();
      const w = raw.watch('VM', rec.listener, { initial: true });
      try {
        await w.ready;
        assert.deepEqual(
          rec.events.map((e) => `${e.type} ${e.key.uid} ${e.data.toString()}`),
          [`ADDED ${A.uid} a`, `ADDED ${B.uid} b`],
        );
        assert.equal(rec.events[0]?.checksum, await raw.checksum(A));
        await raw.write(A, Buffer.from('a2'));
        assert.deepEqual((await rec.next(3)).slice(2), [`MODIFIED ${A.uid} a2`]);
      } finally {
        w.close();
      }
    }),
  );
}
