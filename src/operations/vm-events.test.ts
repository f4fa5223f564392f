import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  applyDefaults,
  EventSchema,
  Size,
  type SnapshotStatus,
  type StoredImage,
  type StoredSnapshot,
  type StoredVM,
  type StoredVolume,
  type VMStatus,
} from '../api/index.js';
import { image, vm } from '../../test/helpers/objects.js';
import {
  eventsOf,
  matchesEventFilter,
  parseEventTime,
  parseEventTypes,
  type ObjectChange,
} from './vm-events.js';

const TIME = '2026-03-01T10:00:00.000Z';
const T1 = '2026-03-01T09:00:00.000Z';
const T2 = '2026-03-01T09:30:00.000Z';

function web(status: Partial<VMStatus>): StoredVM {
  const v = applyDefaults({ ...vm('web'), metadata: { name: 'web', uid: '0123456789abcdef' } });
  return { ...v, status: { ...v.status, ...status } } as StoredVM;
}

const busybox = applyDefaults({
  ...image('docker.io/library/busybox:latest'),
  metadata: { name: 'docker.io/library/busybox:latest', uid: 'aaaaaaaaaaaaaaaa' },
}) as StoredImage;

const dataVolume = applyDefaults({
  apiVersion: 'ignite.weave.works/v1alpha1',
  kind: 'Volume',
  metadata: { name: 'data', uid: 'bbbbbbbbbbbbbbbb' },
  spec: { size: Size.parse('1GB') },
}) as StoredVolume;

function snap(status: SnapshotStatus): StoredSnapshot {
  return {
    apiVersion: 'ignite.weave.works/v1alpha1',
    kind: 'Snapshot',
    metadata: { name: 'web-1', uid: 'bbbbbbbbbbbbbbbb' },
    spec: {
      source: { name: 'web', uid: '0123456789abcdef' },
      image: 'docker.io/library/busybox:latest',
      kernel: 'docker.io/weaveworks/ignite-kernel:5.10',
      cpus: 1,
      memory: Size.parse('256MB'),
      vmm: 'qemu',
    },
    status,
  };
}

const running = (more: Partial<VMStatus> = {}) => web({ state: 'Running', startTime: T1, ...more });
const exited = (reason: 'Stopped' | 'Killed' | 'PoweredOff' | 'Crashed', exitCode?: number) =>
  web({
    state: 'Stopped',
    startTime: T1,
    lastExit: { time: T2, reason, ...(exitCode === undefined ? {} : { exitCode }) },
  });

/** Each change, and its events as `type reason exitCode`. */
const table: { name: string; change: Omit<ObjectChange, 'time'>; want: string[] }[] = [
  { name: 'VM added', change: { type: 'ADDED', object: web({}) }, want: ['create'] },
  {
    name: 'VM added already running',
    change: { type: 'ADDED', object: running() },
    want: ['create', 'start'],
  },
  {
    name: 'Created to Running',
    change: { type: 'MODIFIED', old: web({}), object: running() },
    want: ['start'],
  },
  {
    name: 'Stopped to Running with the restart count risen',
    change: {
      type: 'MODIFIED',
      old: exited('Crashed', 1),
      object: running({ restartCount: 1, lastExit: { time: T2, reason: 'Crashed', exitCode: 1 } }),
    },
    want: ['restart'],
  },
  {
    name: 'asked to stop',
    change: { type: 'MODIFIED', old: running(), object: exited('Stopped', 0) },
    want: ['stop Stopped 0'],
  },
  {
    name: 'asked to kill',
    change: { type: 'MODIFIED', old: running(), object: exited('Killed') },
    want: ['stop Killed'],
  },
  {
    name: 'the guest powered off',
    change: { type: 'MODIFIED', old: running(), object: exited('PoweredOff', 0) },
    want: ['die PoweredOff 0'],
  },
  {
    name: 'crashed',
    change: { type: 'MODIFIED', old: running(), object: exited('Crashed', 137) },
    want: ['die Crashed 137'],
  },
  {
    name: 'stopped without a new exit record (an earlier run is no reason)',
    change: {
      type: 'MODIFIED',
      old: running({ lastExit: { time: T1, reason: 'Stopped' } }),
      object: web({ state: 'Stopped', lastExit: { time: T1, reason: 'Stopped' } }),
    },
    want: ['die'],
  },
  {
    name: 'crash and restart seen in one change',
    change: {
      type: 'MODIFIED',
      old: running(),
      object: running({
        startTime: T2,
        restartCount: 1,
        lastExit: { time: T2, reason: 'Crashed', exitCode: 1 },
      }),
    },
    want: ['die Crashed 1', 'restart'],
  },
  {
    name: 'stop and start seen in one change',
    change: {
      type: 'MODIFIED',
      old: running(),
      object: running({ startTime: T2, lastExit: { time: T2, reason: 'Stopped' } }),
    },
    want: ['stop Stopped', 'start'],
  },
  {
    name: 'a running VM whose addresses changed',
    change: { type: 'MODIFIED', old: running(), object: running({ ipAddresses: ['10.0.0.2'] }) },
    want: [],
  },
  { name: 'VM deleted', change: { type: 'DELETED', object: running() }, want: ['remove'] },
  { name: 'image added', change: { type: 'ADDED', object: busybox }, want: ['import'] },
  { name: 'volume created', change: { type: 'ADDED', object: dataVolume }, want: ['create'] },
  {
    name: 'Created to Running from a saved state',
    change: {
      type: 'MODIFIED',
      old: exited('Stopped'),
      object: running({
        startTime: T2,
        runtime: { vmm: 'qemu', spawnPid: 10, pid: 11, restored: true },
      }),
    },
    want: ['restore'],
  },
  {
    name: 'snapshot stored before its save',
    change: { type: 'ADDED', object: snap({}) },
    want: [],
  },
  {
    name: 'snapshot saved',
    change: { type: 'MODIFIED', old: snap({}), object: snap({ created: T2 }) },
    want: ['snapshot'],
  },
  {
    name: 'snapshot changed after its save',
    change: { type: 'MODIFIED', old: snap({ created: T2 }), object: snap({ created: T2 }) },
    want: [],
  },
  {
    name: 'snapshot removed',
    change: { type: 'DELETED', object: snap({ created: T2 }) },
    want: ['remove'],
  },
  { name: 'image modified', change: { type: 'MODIFIED', old: busybox, object: busybox }, want: [] },
  { name: 'image deleted', change: { type: 'DELETED', object: busybox }, want: ['remove'] },
];

for (const row of table) {
  test(`eventsOf: ${row.name}`, () => {
    const events = eventsOf({ ...row.change, time: TIME });
    assert.deepEqual(
      events.map((e) => [e.type, e.reason, e.exitCode].filter((x) => x !== undefined).join(' ')),
      row.want,
    );
    for (const e of events) {
      assert.equal(e.time, TIME);
      assert.deepEqual(e.object, {
        kind: row.change.object.kind,
        name: row.change.object.metadata.name,
        uid: row.change.object.metadata.uid,
      });
      assert.deepEqual(EventSchema.parse(e), e, 'each event is valid by its schema');
    }
  });
}

const ev = (type: 'create' | 'start' | 'import', kind: 'VM' | 'Image', name: string, time = TIME) =>
  ({ time, type, object: { kind, name, uid: `${name.slice(0, 1)}`.repeat(16) } }) as const;

const filterTable: {
  name: string;
  filter: Parameters<typeof matchesEventFilter>[0];
  want: string[];
}[] = [
  {
    name: 'no filter',
    filter: {},
    want: ['create web', 'start db', 'import busybox', 'start web'],
  },
  { name: 'by VM name', filter: { vms: ['web'] }, want: ['create web', 'start web'] },
  { name: 'by VM uid', filter: { vms: ['dddddddddddddddd'] }, want: ['start db'] },
  { name: 'by VM excludes images', filter: { vms: ['busybox'] }, want: [] },
  {
    name: 'by types',
    filter: { types: ['start', 'import'] },
    want: ['start db', 'import busybox', 'start web'],
  },
  {
    name: 'since a time, inclusive',
    filter: { since: new Date(T2) },
    want: ['import busybox', 'start web'],
  },
  {
    name: 'all at once',
    filter: { vms: ['web', 'db'], types: ['start'], since: new Date(T2) },
    want: ['start web'],
  },
];

for (const row of filterTable) {
  test(`matchesEventFilter: ${row.name}`, () => {
    const events = [
      ev('create', 'VM', 'web', T1),
      ev('start', 'VM', 'db', T1),
      ev('import', 'Image', 'busybox', T2),
      ev('start', 'VM', 'web', TIME),
    ];
    assert.deepEqual(
      events
        .filter((e) => matchesEventFilter(row.filter, e))
        .map((e) => `${e.type} ${e.object.name}`),
      row.want,
    );
  });
}

test('parseEventTypes takes a comma list and refuses unknown types', () => {
  assert.deepEqual(parseEventTypes('start,die'), ['start', 'die']);
  assert.deepEqual(parseEventTypes(' stop , '), ['stop']);
  assert.throws(
    () => parseEventTypes('start,explode'),
    (e: { code?: string; message?: string }) =>
      e.code === 'InvalidArgument' && e.message === 'event type "explode": unknown',
  );
});

test('parseEventTime takes RFC 3339 times and refuses others', () => {
  assert.equal(
    parseEventTime('2026-03-01T10:00:00+01:00').toISOString(),
    '2026-03-01T09:00:00.000Z',
  );
  for (const bad of ['yesterday', '2026-03-01', '2026-13-45T99:00:00Z'])
    assert.throws(
      () => parseEventTime(bad),
      (e: { code?: string }) => e.code === 'InvalidArgument',
      bad,
    );
});
