import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VMStorageSpec } from '../api/index.js';
import { AppError } from '../errors.js';
import {
  attachedVolumes,
  checkStorage,
  fstabLines,
  namedVolumes,
  volumeConflict,
} from './vm-storage.js';

const storage: VMStorageSpec = {
  volumes: [
    { name: 'data', volume: { name: 'data' } },
    { name: 'www', directory: { path: '/srv/www' } },
    { name: 'loop', blockDevice: { path: '/dev/loop0' } },
    { name: 'spare', file: { path: '/srv/spare.img' } },
  ],
  volumeMounts: [
    { name: 'loop', mountPath: '/mnt/', readOnly: true },
    { name: 'data', mountPath: '/data' },
    { name: 'www', mountPath: '/www', readOnly: true },
  ],
};

test('attachedVolumes: disks in the order of volumes from /dev/vdb, directories as shares', () => {
  assert.deepEqual(attachedVolumes(storage), [
    {
      name: 'data',
      source: { kind: 'volume', name: 'data' },
      readOnly: false,
      mountPath: '/data',
      device: '/dev/vdb',
    },
    {
      name: 'www',
      source: { kind: 'directory', path: '/srv/www' },
      readOnly: true,
      mountPath: '/www',
      tag: 'share0',
    },
    {
      name: 'loop',
      source: { kind: 'blockDevice', path: '/dev/loop0' },
      readOnly: true,
      mountPath: '/mnt',
      device: '/dev/vdc',
    },
    {
      name: 'spare',
      source: { kind: 'file', path: '/srv/spare.img' },
      readOnly: false,
      device: '/dev/vdd',
    },
  ]);
  assert.deepEqual(attachedVolumes(undefined), []);
});

test('fstabLines: by device for disks, by tag for 9p, ro where asked, none for an unmounted disk', () => {
  assert.deepEqual(fstabLines(attachedVolumes(storage)), [
    '/dev/vdb /data auto defaults 0 0',
    'share0 /www 9p trans=virtio,version=9p2000.L,ro 0 0',
    '/dev/vdc /mnt auto ro 0 0',
  ]);
});

test('checkStorage refuses what cannot be attached or mounted, naming the VM and volume', () => {
  checkStorage(storage, 'vm "a"');
  checkStorage(undefined, 'vm "a"');
  const cases: [VMStorageSpec, RegExp][] = [
    [{ volumes: [{ name: 'x' }] }, /vm "a": volume "x": give exactly one of/],
    [
      { volumes: [{ name: 'x', volume: { name: 'v' }, file: { path: '/f' } }] },
      /volume "x": give exactly one/,
    ],
    [
      {
        volumes: [
          { name: 'x', volume: { name: 'v' } },
          { name: 'x', volume: { name: 'w' } },
        ],
      },
      /vm "a": volume "x" is given twice/,
    ],
    [{ volumeMounts: [{ name: 'y', mountPath: '/y' }] }, /volume mount \/y: no volume "y"/],
    [
      {
        volumes: [{ name: 'x', volume: { name: 'v' } }],
        volumeMounts: [
          { name: 'x', mountPath: '/a' },
          { name: 'x', mountPath: '/b' },
        ],
      },
      /volume "x" is mounted twice/,
    ],
    [
      {
        volumes: [
          { name: 'x', volume: { name: 'v' } },
          { name: 'y', volume: { name: 'w' } },
        ],
        volumeMounts: [
          { name: 'x', mountPath: '/a' },
          { name: 'y', mountPath: '/a/' },
        ],
      },
      /two volumes are mounted at \/a/,
    ],
    [
      {
        volumes: [{ name: 'x', volume: { name: 'v' } }],
        volumeMounts: [{ name: 'x', mountPath: '/' }],
      },
      /volume "x": cannot mount at \//,
    ],
  ];
  for (const [spec, re] of cases) {
    assert.throws(
      () => checkStorage(spec, 'vm "a"'),
      (e: unknown) => AppError.is(e, 'InvalidArgument') && re.test(e.message),
      re.source,
    );
  }
});

test('volumeConflict: a volume is shared only when every mount of it is read-only', () => {
  const rw = (volume: string) => ({ volume, readOnly: false });
  const ro = (volume: string) => ({ volume, readOnly: true });
  const cases: [
    string,
    { volume: string; readOnly: boolean }[],
    { volume: string; readOnly: boolean }[],
    string | undefined,
  ][] = [
    ['rw against rw', [rw('d')], [rw('d')], 'd'],
    ['rw against ro', [rw('d')], [ro('d')], 'd'],
    ['ro against rw', [ro('d')], [rw('d')], 'd'],
    ['ro against ro', [ro('d')], [ro('d')], undefined],
    ['other volumes', [rw('d')], [rw('e')], undefined],
    ['none', [], [rw('d')], undefined],
    ['the second of mine', [ro('a'), rw('b')], [ro('a'), ro('b')], 'b'],
  ];
  for (const [what, mine, theirs, want] of cases)
    assert.equal(volumeConflict(mine, theirs), want, what);
  assert.deepEqual(namedVolumes(storage), [{ volume: 'data', readOnly: false }]);
});
