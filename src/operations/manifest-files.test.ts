import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readDesiredState } from './manifest-files.js';
import { specHash } from './reconcile-vms.js';

const vm = (name: string, extra = '') =>
  `apiVersion: ignite.weave.works/v1alpha1\nkind: VM\nmetadata:\n  name: ${name}\nspec:\n  image:\n    ociClaim:\n      ref: busybox\n${extra}`;

test('VMs, Images and Kernels are read; other API groups are passed over', () => {
  const { desired, invalid } = readDesiredState([
    { path: 'b.yaml', text: `${vm('b')}---\n${vm('c')}` },
    {
      path: 'a.json',
      text: JSON.stringify({
        apiVersion: 'ignite.weave.works/v1alpha1',
        kind: 'VM',
        metadata: { name: 'a' },
        spec: { image: { ociClaim: { ref: 'x' } } },
      }),
    },
    {
      path: 'img.yaml',
      text: 'apiVersion: ignite.weave.works/v1alpha1\nkind: Image\nmetadata:\n  name: i\nspec:\n  ociClaim:\n    ref: busybox\n',
    },
    { path: 'k8s.yaml', text: 'apiVersion: v1\nkind: Service\nmetadata: {name: s}\n' },
    {
      path: 'net.yaml',
      text: 'apiVersion: ignite.weave.works/v1alpha1\nkind: Network\nmetadata:\n  name: lab\nspec:\n  subnet: 10.70.0.0/24\n',
    },
  ]);
  assert.deepEqual(invalid, []);
  assert.deepEqual(desired.hostObjects, [{ kind: 'Network', name: 'lab', file: 'net.yaml' }]);
  assert.deepEqual(
    desired.vms.map((d) => `${d.file}:${d.vm.metadata.name}`),
    ['a.json:a', 'b.yaml:b', 'b.yaml:c'],
  );
  assert.deepEqual(
    desired.images.map((i) => i.obj.spec.ociClaim.ref),
    ['docker.io/library/busybox:latest'],
  );
});

test('an invalid document invalidates its whole file, named with the field path', () => {
  const { desired, invalid } = readDesiredState([
    { path: 'vms/web.yaml', text: `${vm('ok')}---\n${vm('web', '  memory: lots\n')}` },
    { path: 'vms/syntax.yaml', text: 'kind: [VM\n' },
    { path: 'vms/noname.yaml', text: vm('').replace('  name: \n', '  labels: {a: b}\n') },
    { path: 'vms/badname.yaml', text: vm('../etc') },
  ]);
  assert.deepEqual(desired.vms, [], 'no VM of an invalid file is desired');
  assert.deepEqual(desired.invalidFiles.sort(), [
    'vms/badname.yaml',
    'vms/noname.yaml',
    'vms/syntax.yaml',
    'vms/web.yaml',
  ]);
  const web = invalid.find((i) => i.file === 'vms/web.yaml');
  assert.equal(web?.problems[0]?.path, '.spec.memory');
  assert.match(web?.message ?? '', /^manifest vms\/web\.yaml: invalid: \.spec\.memory: /);
  assert.match(
    invalid.find((i) => i.file === 'vms/syntax.yaml')?.message ?? '',
    /line \d+, column \d+/,
  );
  assert.match(
    invalid.find((i) => i.file === 'vms/badname.yaml')?.message ?? '',
    /\.metadata\.name/,
  );
});

test('a VM defined twice, or a host port mapped twice, invalidates the later file', () => {
  const ports = (p: number) =>
    `  network:\n    ports:\n      - hostPort: ${p}\n        vmPort: 80\n`;
  const { desired, invalid } = readDesiredState([
    { path: 'a.yaml', text: vm('web', ports(8080)) },
    { path: 'b.yaml', text: vm('web') },
    { path: 'c.yaml', text: vm('other', ports(8080)) },
  ]);
  assert.deepEqual(
    desired.vms.map((d) => d.file),
    ['a.yaml'],
  );
  assert.match(invalid[0]?.message ?? '', /vm "web" is also defined in a\.yaml/);
  assert.match(
    invalid[1]?.message ?? '',
    /\.spec\.network\.ports\[0\]: host port 8080\/tcp is already mapped by vm "web"/,
  );
});

test('the spec hash ignores key order and status, and sees every spec change', () => {
  const [a, b, c, d] = [
    vm('web', '  cpus: 2\n  memory: 1GB\n'),
    vm('web', '  memory: 1GB\n  cpus: 2\n') + 'status:\n  state: Running\n',
    vm('web', '  cpus: 3\n  memory: 1GB\n'),
    vm('web2', '  cpus: 2\n  memory: 1GB\n'),
  ].map((text, i) => readDesiredState([{ path: `${i}.yaml`, text }]).desired.vms[0]?.vm);
  assert.ok(a && b && c && d);
  assert.equal(specHash(a), specHash(b));
  assert.notEqual(specHash(a), specHash(c));
  assert.notEqual(specHash(a), specHash(d));
});

test('a file the source could not hand over is invalid, with why, and keeps its VMs', () => {
  const { desired, invalid } = readDesiredState(
    [{ path: 'a.yaml', text: vm('a') }],
    [{ path: 'big.yaml', reason: 'larger than 1 MiB' }],
  );
  assert.deepEqual(
    desired.vms.map((d) => d.vm.metadata.name),
    ['a'],
  );
  assert.deepEqual(desired.invalidFiles, ['big.yaml']);
  assert.deepEqual(invalid, [
    {
      file: 'big.yaml',
      problems: [{ path: '.', message: 'larger than 1 MiB' }],
      message: 'manifest big.yaml: invalid: larger than 1 MiB',
    },
  ]);
});
