import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../errors.js';
import { parseMountFlag, parseVolumeFlag, storageFromFlags } from './volume-options.js';

test('parseVolumeFlag: a named volume, a block device or an image file, with :ro', () => {
  const cases: [string, unknown][] = [
    [
      'data:/data',
      {
        volume: { name: 'data', volume: { name: 'data' } },
        mount: { name: 'data', mountPath: '/data' },
      },
    ],
    [
      '/dev/loop3:/mnt:ro',
      {
        volume: { name: 'disk2', blockDevice: { path: '/dev/loop3' } },
        mount: { name: 'disk2', mountPath: '/mnt', readOnly: true },
      },
    ],
    [
      '/srv/disk.img:/var/lib/x',
      {
        volume: { name: 'disk2', file: { path: '/srv/disk.img' } },
        mount: { name: 'disk2', mountPath: '/var/lib/x' },
      },
    ],
  ];
  for (const [input, want] of cases) assert.deepEqual(parseVolumeFlag(input, 2), want, input);
  for (const bad of [
    'data',
    'data:rel',
    ':/x',
    'data:/x:rw',
    'data:/x:ro:1',
    'Bad Name:/x',
    'a:/x y',
  ]) {
    assert.throws(
      () => parseVolumeFlag(bad, 1),
      (e: unknown) =>
        AppError.is(e, 'InvalidArgument') && e.message.startsWith(`--volumes ${bad}:`),
      bad,
    );
  }
});

test('parseMountFlag: type=bind with src and dst, and ro', () => {
  assert.deepEqual(parseMountFlag('type=bind,src=/srv/www,dst=/www,ro', 1), {
    volume: { name: 'share1', directory: { path: '/srv/www' } },
    mount: { name: 'share1', mountPath: '/www', readOnly: true },
  });
  assert.deepEqual(parseMountFlag('source=/a,target=/b', 3), {
    volume: { name: 'share3', directory: { path: '/a' } },
    mount: { name: 'share3', mountPath: '/b' },
  });
  for (const bad of [
    'type=volume,src=/a,dst=/b',
    'src=a,dst=/b',
    'src=/a',
    'src=/a,dst=b',
    'src=/a,src=/c,dst=/b',
    'src=/a,dst=/b,ro=no',
    'src=/a,dst=/b,z',
  ]) {
    assert.throws(
      () => parseMountFlag(bad, 1),
      (e: unknown) => AppError.is(e, 'InvalidArgument') && e.message.startsWith(`--mount ${bad}:`),
      bad,
    );
  }
});

test('storageFromFlags: -v first, then --mount, each numbered in its own flag', () => {
  assert.equal(storageFromFlags([], []), undefined);
  const s = storageFromFlags(['/dev/vg/a:/a', 'v1:/b:ro'], ['src=/h,dst=/c']);
  assert.deepEqual(
    s?.volumes?.map((v) => v.name),
    ['disk1', 'v1', 'share1'],
  );
  assert.deepEqual(
    s?.volumeMounts?.map((m) => [m.name, m.mountPath, m.readOnly ?? false]),
    [
      ['disk1', '/a', false],
      ['v1', '/b', true],
      ['share1', '/c', false],
    ],
  );
});
