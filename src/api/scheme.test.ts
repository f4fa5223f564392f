import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../errors.js';
import { decode, decodeAll, fromPlainAs, parseDocuments, parseKind, toPlain } from './scheme.js';

const FIXTURES = join(import.meta.dirname, '../../test/fixtures/manifests');

test('every Weave Ignite v0.4.0 manifest fixture loads unchanged', () => {
  const dir = join(FIXTURES, 'ignite-v0.4');
  const files = readdirSync(dir);
  assert.ok(files.length >= 5);
  for (const f of files) {
    const obj = decode(readFileSync(join(dir, f), 'utf8'), { source: f });
    assert.equal(obj.apiVersion, 'ignite.weave.works/v1alpha1', f);
    // Re-encoding and decoding again gives the same object: the wire form is stable.
    const again = decode(JSON.stringify(toPlain(obj)));
    assert.deepEqual(toPlain(again), toPlain(obj), f);
  }
});

test('the full v0.4 VM manifest keeps every field', () => {
  const vm = decode(readFileSync(join(FIXTURES, 'ignite-v0.4/vm-full.yaml'), 'utf8'));
  assert.equal(vm.kind, 'VM');
  if (vm.kind !== 'VM') return;
  const plain = toPlain(vm) as { spec: Record<string, unknown>; status: Record<string, unknown> };
  assert.deepEqual(plain.spec, {
    image: { ociClaim: { type: 'Docker', ref: 'docker.io/weaveworks/ignite-ubuntu:latest' } },
    kernel: {
      ociClaim: { type: 'Docker', ref: 'docker.io/weaveworks/ignite-kernel:4.19.47' },
      cmdLine: 'console=ttyS0 reboot=k panic=1 pci=off ip=dhcp',
    },
    cpus: 2,
    memory: '1GB',
    diskSize: '4GB',
    network: { mode: 'docker-bridge', ports: [{ hostPort: 443, vmPort: 6443 }] },
    copyFiles: [{ hostPath: '/etc/kubernetes/admin.conf', vmPath: '/root/.kube/config' }],
    ssh: true,
  });
  assert.equal(plain.status['state'], 'Running');
  assert.equal(vm.metadata.uid, '05286f8fb73dc324');
});

test("JSON with trailing commas loads, as it did through Ignite's YAML decoder", () => {
  const vm = decode(readFileSync(join(FIXTURES, 'ignite-v0.4/vm-ssh-key.json'), 'utf8'));
  assert.equal(vm.kind === 'VM' && vm.spec.ssh, '/root/.ssh/id_rsa.pub');
});

test('a manifest with wrong fields reports every problem with its path', () => {
  const text = readFileSync(join(FIXTURES, 'invalid/vm-wrong-fields.yaml'), 'utf8');
  try {
    decode(text, { source: 'vm-wrong-fields.yaml' });
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof AppError);
    assert.equal(err.code, 'InvalidArgument');
    const paths = err.problems.map((p) => p.path).sort();
    assert.deepEqual(paths, [
      '.spec.cpus',
      '.spec.diskSize',
      '.spec.memory',
      '.spec.network.mode',
      '.spec.network.ports[0].hostPort',
      '.spec.sshKey',
    ]);
    assert.match(err.message, /manifest vm-wrong-fields\.yaml: 6 problems/);
    assert.match(err.message, /\.spec\.sshKey: unknown field "sshKey"/);
    assert.match(err.message, /\.spec\.diskSize: expected a size/);
  }
});

test('wrong apiVersion, kind and syntax errors are named', () => {
  const cases: [string, RegExp][] = [
    [
      'apiVersion: v1\nkind: VM\nmetadata: {name: a}\nspec: {image: {ociClaim: {ref: x}}}',
      /\.apiVersion: expected "ignite\.weave\.works\/v1alpha1"/,
    ],
    [
      'apiVersion: ignite.weave.works/v1alpha1\nkind: Pod\n',
      /\.kind: expected one of VM, Image, Kernel/,
    ],
    ['kind: VM\n  bad: [', /line \d+/],
    ['- a\n- b\n', /expected an object/],
    ['', /expected one object, found 0/],
    [
      'apiVersion: ignite.weave.works/v1alpha1\nkind: VM\nmetadata: {name: a, uid: NOTAUID}\nspec: {image: {ociClaim: {ref: x}}}',
      /\.metadata\.uid/,
    ],
  ];
  for (const [text, re] of cases)
    assert.throws(
      () => decode(text),
      (e: unknown) => e instanceof AppError && re.test(e.message),
      text,
    );
});

test('decodeAll reads multi-document YAML', () => {
  const one =
    'apiVersion: ignite.weave.works/v1alpha1\nkind: VM\nmetadata: {name: a}\nspec: {image: {ociClaim: {ref: x}}}\n';
  assert.equal(decodeAll(`${one}---\n${one.replace('name: a', 'name: b')}`).length, 2);
});

test('parseKind matches kinds case-insensitively, singular or plural', () => {
  assert.equal(parseKind('vm'), 'VM');
  assert.equal(parseKind('VMs'), 'VM');
  assert.equal(parseKind('Image'), 'Image');
  assert.equal(parseKind('kernels'), 'Kernel');
  assert.equal(parseKind('pod'), undefined);
});

test('YAML aliases without their anchor, or too many, are invalid manifests, not crashes', () => {
  for (const text of ['kind: *nope\n', `a: &a [x]\nb: [${Array(200).fill('*a').join(', ')}]\n`]) {
    assert.throws(
      () => parseDocuments(text, 'bad.yaml'),
      (e: unknown) => AppError.is(e, 'InvalidArgument') && /^manifest bad\.yaml/.test(e.message),
    );
  }
});

test('fromPlainAs names another kind as the one problem, not the fields its schema would reject', () => {
  const image = {
    apiVersion: 'ignite.weave.works/v1alpha1',
    kind: 'Image',
    metadata: { name: 'web' },
    spec: { image: { ociClaim: { ref: 'busybox' } }, memory: '1GB' },
  };
  assert.throws(
    () => fromPlainAs('VM', image),
    (err: unknown) =>
      err instanceof AppError &&
      err.code === 'InvalidArgument' &&
      JSON.stringify(err.problems) ===
        JSON.stringify([{ path: '.kind', message: 'expected VM, got "Image"' }]),
  );
  assert.equal(fromPlainAs('VM', { ...image, kind: 'VM' }).kind, 'VM');
});

test('v0.4 VM manifests load without spec.network.networks; one with networks keeps them', () => {
  const dir = join(FIXTURES, 'ignite-v0.4');
  for (const file of readdirSync(dir)) {
    const obj = decode(readFileSync(join(dir, file), 'utf8'), { source: file });
    if (obj.kind === 'VM') assert.equal(obj.spec.network?.networks, undefined, file);
  }
  const vm = fromPlainAs('VM', {
    apiVersion: 'ignite.weave.works/v1alpha1',
    kind: 'VM',
    metadata: { name: 'two' },
    spec: {
      image: { ociClaim: { ref: 'busybox' } },
      network: {
        networks: [
          { name: 'a', ip: '10.70.0.10' },
          { name: 'b', mac: '02:00:00:00:00:0b' },
        ],
      },
    },
  });
  assert.deepEqual(vm.spec.network?.networks, [
    { name: 'a', ip: '10.70.0.10' },
    { name: 'b', mac: '02:00:00:00:00:0b' },
  ]);
  assert.throws(
    () =>
      decode(
        'apiVersion: ignite.weave.works/v1alpha1\nkind: VM\nmetadata: {name: x}\nspec:\n  image: {ociClaim: {ref: busybox}}\n  network: {networks: [{name: a, ip: 10.70.0.300}]}\n',
      ),
    /\.spec\.network\.networks\[0\]\.ip: expected an IPv4 address/,
  );
});

test('a Network manifest defaults nat on and isolation off', () => {
  const net = decode(
    'apiVersion: ignite.weave.works/v1alpha1\nkind: Network\nmetadata: {name: lab}\nspec: {subnet: 10.70.0.0/24}\n',
  );
  assert.equal(net.kind, 'Network');
  if (net.kind !== 'Network') return;
  assert.deepEqual(net.spec, { subnet: '10.70.0.0/24', nat: true, isolated: false });
  assert.deepEqual(net.status, {});
});
