import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode } from '../scheme.js';
import { volumeSource } from './vm-storage.js';
import type { VM } from './types.js';

const V04 = `apiVersion: ignite.weave.works/v1alpha1
kind: VM
metadata:
  name: web
spec:
  image:
    ociClaim:
      ref: weaveworks/ignite-ubuntu
  cpus: 2
  memory: 1GB
  diskSize: 3GB
`;

test('a v0.4 manifest, without spec.storage, still loads', () => {
  const vm = decode(V04) as VM;
  assert.equal(vm.metadata.name, 'web');
  assert.equal(vm.spec.storage, undefined);
});

test("spec.storage takes Ignite v0.5's volumes and volumeMounts, and our sources", () => {
  const vm = decode(
    `${V04}  storage:
    volumes:
    - name: loop
      blockDevice:
        path: /dev/loop0
    - name: data
      volume:
        name: data
    volumeMounts:
    - name: loop
      mountPath: /mnt
    - name: data
      mountPath: /data
      readOnly: true
`,
  ) as VM;
  const volumes = vm.spec.storage?.volumes ?? [];
  assert.deepEqual(volumes.map(volumeSource), [
    { kind: 'blockDevice', path: '/dev/loop0' },
    { kind: 'volume', name: 'data' },
  ]);
  assert.deepEqual(vm.spec.storage?.volumeMounts?.[1], {
    name: 'data',
    mountPath: '/data',
    readOnly: true,
  });
});

test('spec.storage problems are reported by path', () => {
  const cases: [string, RegExp][] = [
    [
      '    volumes:\n    - name: x\n      blockDevice:\n        path: dev/loop0\n',
      /\.spec\.storage\.volumes\[0\]\.blockDevice\.path: expected an absolute path/,
    ],
    ['    volumes:\n    - name: x\n      nfs: {}\n', /\.spec\.storage\.volumes\[0\].*nfs/],
    [
      '    volumeMounts:\n    - name: x\n      mountPath: relative\n',
      /\.spec\.storage\.volumeMounts\[0\]\.mountPath/,
    ],
  ];
  for (const [storage, re] of cases) {
    assert.throws(
      () => decode(`${V04}  storage:\n${storage}`),
      (e: unknown) => re.test((e as Error).message),
      re.source,
    );
  }
});
