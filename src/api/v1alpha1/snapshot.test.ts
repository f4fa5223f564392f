import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, toPlain } from '../scheme.js';
import { Size } from '../meta/size.js';

const manifest = (extra = '') => `
apiVersion: ignite.weave.works/v1alpha1
kind: Snapshot
metadata:
  name: web-1
  uid: 0123456789abcdef
spec:
  source: { name: web, uid: fedcba9876543210 }
  image: busybox
  kernel: weaveworks/ignite-kernel:5.10
  cpus: 1
  memory: 256MB
  vmm: qemu${extra}
`;

test('Snapshot: decoded with normalized refs and sizes, defaulted to an empty status', () => {
  const obj = decode(manifest());
  assert.equal(obj.kind, 'Snapshot');
  if (obj.kind !== 'Snapshot') return;
  assert.equal(obj.spec.image, 'docker.io/library/busybox:latest');
  assert.equal(obj.spec.kernel, 'docker.io/weaveworks/ignite-kernel:5.10');
  assert.ok(obj.spec.memory.equals(Size.parse('256MB')));
  assert.deepEqual(obj.status, {});
  assert.equal(toPlain(obj)['kind'], 'Snapshot');
});

test('Snapshot: an unknown field and a bad vmm are named', () => {
  assert.throws(() => decode(manifest('\n  disk: /x')), /\.spec\.disk: unknown field "disk"/);
  assert.throws(() => decode(manifest().replace('vmm: qemu', 'vmm: xen')), /\.spec\.vmm/);
});
