import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../test/fakes/fake-clock.js';
import { image, vm } from '../../test/helpers/objects.js';
import { FsRawStorage, MemoryRawStorage, newClient, type Client } from '../storage/index.js';
import { ChangeFeed, ExpiredVersionError, type Change } from './change-feed.js';

const START = 100;

async function setup(historySize?: number) {
  const clock = new FakeClock('2026-03-01T00:00:00Z');
  const client = newClient(new MemoryRawStorage(), () => clock.now());
  await client.vms.create({ ...vm('old'), metadata: { name: 'old', uid: '00000000000000aa' } });
  const errors: unknown[] = [];
  const feed = await ChangeFeed.open(
    { client, clock },
    {
      startVersion: START,
      onError: (e) => errors.push(e),
      ...(historySize ? { historySize } : {}),
    },
  );
  return { clock, client, feed, errors };
}

const line = (c: Change) =>
  `${c.resourceVersion} ${c.type} ${c.object.metadata.name} ${c.object.kind === 'VM' ? (c.object.status.state ?? '') : ''}${c.old ? ` (was ${c.old.kind === 'VM' ? c.old.status.state : ''})` : ''}`.trimEnd();

/** Each step changes the store; the changes a subscriber from START then sees, in order. */
const table: {
  name: string;
  steps: (c: Client) => Promise<void>;
  want: string[];
}[] = [
  { name: 'nothing', steps: async () => {}, want: [] },
  {
    name: 'create, start, delete',
    steps: async (c) => {
      const v = await c.vms.create(vm('web'));
      await c.vms.update(v.metadata.uid, (o) => void (o.status.state = 'Running'));
      await c.vms.delete(v.metadata.uid);
    },
    want: [
      '101 ADDED web Created',
      '102 MODIFIED web Running (was Created)',
      '103 DELETED web Running',
    ],
  },
  {
    name: 'every write of an object already there is a MODIFIED, even one that changes nothing',
    steps: async (c) => {
      await c.vms.update('00000000000000aa', () => undefined);
      await c.vms.update('00000000000000aa', (o) => void (o.status.state = 'Stopped'));
    },
    want: ['101 MODIFIED old Created (was Created)', '102 MODIFIED old Stopped (was Created)'],
  },
  {
    name: 'other kinds are numbered apart',
    steps: async (c) => {
      await c.images.create(image('docker.io/library/busybox:latest'));
      await c.vms.create(vm('web'));
    },
    want: ['101 ADDED web Created'],
  },
  {
    name: 'deleting what is not there changes nothing',
    steps: async (c) => {
      await c.vms.delete('0000000000000fff');
    },
    want: [],
  },
];

for (const row of table) {
  test(`ChangeFeed: ${row.name}`, async () => {
    const { client, feed, errors } = await setup();
    const got: string[] = [];
    const sub = feed.subscribe('VM', START, (c) => got.push(line(c)));
    await row.steps(client);
    assert.deepEqual(got, row.want);
    // A late subscriber from the same version is replayed the same changes.
    const replay: string[] = [];
    feed.subscribe('VM', START, (c) => replay.push(line(c))).close();
    assert.deepEqual(replay, row.want);
    assert.equal(feed.version('VM'), START + row.want.length);
    assert.deepEqual(errors, []);
    sub.close();
    feed.close();
  });
}

test('ChangeFeed: list gives the objects and the version; without a version, ADDED for each first', async () => {
  const { client, clock, feed } = await setup();
  assert.deepEqual(
    feed.list('VM').items.map((v) => v.metadata.name),
    ['old'],
  );
  assert.equal(feed.list('VM').resourceVersion, START);
  clock.advance(5000);
  const web = await client.vms.create(vm('web'));
  await client.vms.create(vm('api'));
  await client.vms.update(web.metadata.uid, (o) => void (o.status.state = 'Running'));
  const list = feed.list('VM');
  assert.deepEqual(
    list.items.map((v) => `${v.metadata.name} ${v.status.state ?? ''}`),
    ['api Created', 'old Created', 'web Running'],
  );
  assert.equal(list.resourceVersion, START + 3);
  const got: Change<'VM'>[] = [];
  feed.subscribe('VM', undefined, (c) => got.push(c));
  await client.vms.delete(web.metadata.uid);
  assert.deepEqual(got.map(line), [
    '100 ADDED old Created',
    '102 ADDED api Created',
    '103 ADDED web Running',
    '104 DELETED web Running',
  ]);
  assert.equal(got[0]?.time, '2026-03-01T00:00:00.000Z');
  assert.equal(got[1]?.time, '2026-03-01T00:00:05.000Z');
  assert.equal(got[1]?.old, undefined, 'an initial ADDED has no old object');
  feed.close();
});

test('ChangeFeed: history is bounded; a version it no longer has, or never had, is ExpiredVersionError', async () => {
  const { client, feed } = await setup(3);
  for (const n of ['a', 'b', 'c', 'd', 'e']) await client.vms.create(vm(n));
  assert.equal(feed.version('VM'), START + 5);
  assert.equal(feed.oldestVersion('VM'), START + 2);
  const from = (v: number) => {
    const got: string[] = [];
    feed.subscribe('VM', v, (c) => got.push(line(c))).close();
    return got;
  };
  assert.deepEqual(from(START + 2), [
    '103 ADDED c Created',
    '104 ADDED d Created',
    '105 ADDED e Created',
  ]);
  assert.deepEqual(from(START + 5), []);
  for (const bad of [START + 1, START, 0, START + 6, Number.NaN, 1.5]) {
    assert.throws(
      () => feed.subscribe('VM', bad, () => undefined),
      (e: unknown) =>
        e instanceof ExpiredVersionError &&
        e.code === 'FailedPrecondition' &&
        /^vm feed: resourceVersion/.test(e.message),
      String(bad),
    );
  }
  // The other kinds' history is their own.
  assert.equal(feed.oldestVersion('Image'), START);
  feed.close();
});

test('ChangeFeed: a throwing subscriber goes to onError; closing stops delivery', async () => {
  const { client, feed, errors } = await setup();
  const good: string[] = [];
  feed.subscribe('VM', START, () => {
    throw new Error('subscriber failed');
  });
  const sub = feed.subscribe('VM', START, (c) => good.push(line(c)));
  await client.vms.create(vm('a'));
  sub.close();
  await client.vms.create(vm('b'));
  assert.deepEqual(good, ['101 ADDED a Created']);
  assert.equal(errors.length, 2);
  feed.close();
  await client.vms.create(vm('c'));
  assert.equal(feed.version('VM'), START + 2, 'a closed feed watches no more');
});

test('ChangeFeed: versions start from the clock, so a version of an earlier run is expired', async () => {
  const clock = new FakeClock('2026-03-01T00:00:00Z');
  const client = newClient(new MemoryRawStorage());
  const first = await ChangeFeed.open({ client, clock });
  await client.vms.create(vm('a'));
  const handedOut = first.version('VM');
  first.close();
  clock.advance(1);
  const second = await ChangeFeed.open({ client, clock });
  assert.ok(second.version('VM') > handedOut);
  assert.throws(() => second.subscribe('VM', handedOut, () => undefined), ExpiredVersionError);
  second.close();
});

test('ChangeFeed over the fs store sees another process write', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'ignite-feed-'));
  const clock = new FakeClock();
  const feed = await ChangeFeed.open(
    { client: newClient(new FsRawStorage(dir, { watchIntervalMs: 20 })), clock },
    { startVersion: 0 },
  );
  try {
    const got: string[] = [];
    feed.subscribe('VM', 0, (c) => got.push(line(c)));
    const other = newClient(new FsRawStorage(dir));
    const made = await other.vms.create(vm('web'));
    await other.vms.update(made.metadata.uid, (o) => void (o.status.state = 'Running'));
    const deadline = Date.now() + 3000;
    while (!got.some((l) => l.includes('Running')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 10));
    // Two quick writes may be seen as one: the last state is what must arrive.
    assert.equal(got[0]?.startsWith('1 ADDED web'), true, got.join('\n'));
    assert.match(got.at(-1) ?? '', /web Running/);
  } finally {
    feed.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('ChangeFeed: a function subscribed twice is called twice, and each subscription closes alone', async () => {
  const { client, feed } = await setup();
  const got: string[] = [];
  const fn = (c: Change<'VM'>) => got.push(line(c));
  const first = feed.subscribe('VM', START, fn);
  feed.subscribe('VM', START, fn);
  await client.vms.create(vm('a'));
  first.close();
  await client.vms.create(vm('b'));
  assert.deepEqual(got, ['101 ADDED a Created', '101 ADDED a Created', '102 ADDED b Created']);
  feed.close();
});
