import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Size } from '../api/index.js';
import { AppError } from '../errors.js';
import { decodeVMConfig } from './vm-config.js';

const HEAD = 'apiVersion: ignite.weave.works/v1alpha1\nkind: VM\n';

test('a manifest without metadata and image takes them from --name and the argument', () => {
  const vm = decodeVMConfig(`${HEAD}spec:\n  cpus: 2\n  memory: 1GB\n`, 'vm.yaml', {
    name: 'web',
    image: 'weaveworks/ignite-ubuntu',
  });
  assert.equal(vm.metadata.name, 'web');
  assert.equal(vm.spec.image.ociClaim.ref, 'docker.io/weaveworks/ignite-ubuntu:latest');
  assert.equal(vm.spec.cpus, 2);
});

test('without a name the manifest is still valid (a name is generated at create)', () => {
  const vm = decodeVMConfig(`${HEAD}spec: {}\n`, 'vm.yaml', { image: 'busybox' });
  assert.equal(vm.metadata.name, undefined);
});

test('flags replace manifest fields before validation', () => {
  const vm = decodeVMConfig(
    `${HEAD}metadata: {name: a}\nspec:\n  image: {ociClaim: {ref: busybox}}\n  memory: lots\n`,
    'vm.yaml',
    { name: 'b', memory: Size.parse('1GB') },
  );
  assert.equal(vm.metadata.name, 'b');
  assert.equal(vm.spec.memory?.toString(), '1GB');
});

test("the manifest's image is kept when both give one (create then checks they agree)", () => {
  const vm = decodeVMConfig(`${HEAD}spec:\n  image: {ociClaim: {ref: busybox}}\n`, 'vm.yaml', {
    image: 'alpine',
  });
  assert.equal(vm.spec.image.ociClaim.ref, 'docker.io/library/busybox:latest');
});

test('a field still missing is reported by its path, with the other problems', () => {
  assert.throws(
    () => decodeVMConfig(`${HEAD}spec:\n  memory: lots\n`, 'vm.yaml', {}),
    (err: unknown) => {
      assert.ok(AppError.is(err, 'InvalidArgument'));
      assert.deepEqual(
        err.problems.map((p) => p.path),
        ['.spec.image.ociClaim.ref', '.spec.memory'],
      );
      return true;
    },
  );
});
