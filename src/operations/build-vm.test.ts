import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESTART_POLICY_ANNOTATION, Size, decode, toPlain, type VM } from '../api/index.js';
import { AppError } from '../errors.js';
import { buildVM, validateVMName } from './build-vm.js';

const FULL = decode(
  readFileSync(
    join(import.meta.dirname, '../../test/fixtures/manifests/ignite-v0.4/vm-full.yaml'),
    'utf8',
  ),
) as VM;

test('buildVM from flags alone applies the defaults', () => {
  const vm = toPlain(buildVM({ image: 'busybox', name: 'web', cpus: 2 })) as {
    spec: Record<string, unknown>;
    status: unknown;
  };
  assert.equal(vm.spec['cpus'], 2);
  assert.equal(vm.spec['memory'], '512MB');
  assert.deepEqual(vm.status, { state: 'Created' });
});

test('flags override the manifest field by field', () => {
  const vm = buildVM({
    manifest: FULL,
    cpus: 4,
    memory: Size.parse('2GB'),
    kernelArgs: 'console=ttyS0',
    labels: { extra: '1' },
    ports: [{ hostPort: 8080, vmPort: 80 }],
  });
  assert.equal(vm.spec.cpus, 4);
  assert.equal(vm.spec.memory?.toString(), '2GB');
  assert.equal(vm.spec.diskSize?.toString(), '4GB', 'kept from the manifest');
  assert.equal(vm.spec.kernel?.cmdLine, 'console=ttyS0');
  assert.equal(
    vm.spec.kernel?.ociClaim.ref,
    'docker.io/weaveworks/ignite-kernel:4.19.47',
    'kernel image kept',
  );
  assert.deepEqual(vm.metadata.labels, { foo: 'bar', extra: '1' });
  assert.deepEqual(vm.spec.network?.ports, [
    { hostPort: 443, vmPort: 6443 },
    { hostPort: 8080, vmPort: 80 },
  ]);
  assert.equal(vm.metadata.uid, '05286f8fb73dc324');
  assert.equal(vm.status?.state, 'Created', 'desired state is not the created state');
});

test('conflicts that cannot be resolved are errors', () => {
  const cases: [Parameters<typeof buildVM>[0], RegExp][] = [
    [{ manifest: FULL, image: 'alpine' }, /the manifest asks for/],
    [{ manifest: FULL, ports: [{ hostPort: 443, vmPort: 1 }] }, /443\/tcp is mapped twice/],
    [{}, /an image is required/],
    [
      {
        image: 'x',
        copyFiles: [
          { hostPath: '/a', vmPath: '/b' },
          { hostPath: '/c', vmPath: '/b' },
        ],
      },
      /\/b is written twice/,
    ],
  ];
  for (const [opts, re] of cases)
    assert.throws(
      () => buildVM(opts),
      (e: unknown) => AppError.is(e, 'InvalidArgument') && re.test(e.message),
    );
});

test('--restart is stored as the annotation, over the manifest; a bad one is refused', () => {
  const key = RESTART_POLICY_ANNOTATION;
  const withPolicy = (policy: string): VM => ({
    ...FULL,
    metadata: { ...FULL.metadata, annotations: { [key]: policy } },
  });
  const cases: {
    name: string;
    options: Parameters<typeof buildVM>[0];
    want: string | undefined;
  }[] = [
    { name: 'no flag, no annotation', options: { image: 'busybox' }, want: undefined },
    {
      name: 'the flag',
      options: { image: 'busybox', restartPolicy: { name: 'on-failure', maxRetries: 5 } },
      want: 'on-failure:5',
    },
    { name: "the manifest's", options: { manifest: withPolicy('always') }, want: 'always' },
    {
      name: 'the flag over the manifest',
      options: { manifest: withPolicy('always'), restartPolicy: { name: 'no' } },
      want: 'no',
    },
  ];
  for (const c of cases)
    assert.equal(buildVM(c.options).metadata.annotations?.[key], c.want, c.name);
  assert.throws(
    () => buildVM({ manifest: withPolicy('sometimes') }),
    (e: unknown) =>
      AppError.is(e, 'InvalidArgument') &&
      e.message.startsWith(`annotation ${key}: "sometimes" is not a restart policy`),
  );
});

test('the same image as argument and in the manifest is no conflict', () => {
  assert.equal(
    buildVM({ manifest: FULL, image: 'docker.io/weaveworks/ignite-ubuntu:latest' }).spec.image
      .ociClaim.ref,
    'docker.io/weaveworks/ignite-ubuntu:latest',
  );
});

test('validateVMName refuses names that are unsafe in paths and shells', () => {
  for (const ok of ['web', 'a', 'web-1', 'my.vm_2']) validateVMName(ok);
  for (const bad of ['', '../x', 'a/b', 'Web', '-x', 'x-', 'a b', '$(id)', 'a;b', 'x'.repeat(64)]) {
    assert.throws(() => validateVMName(bad), AppError, bad);
  }
});

test('placement flags go over the manifest placement: selector labels add up', () => {
  const manifest: VM = {
    ...FULL,
    spec: { ...FULL.spec, placement: { host: 'h1', hostSelector: { zone: 'a', disk: 'hdd' } } },
  };
  const vm = buildVM({
    manifest,
    placement: { host: 'h2', hostSelector: { disk: 'ssd' }, reschedule: true },
  });
  assert.deepEqual(vm.spec.placement, {
    host: 'h2',
    hostSelector: { zone: 'a', disk: 'ssd' },
    reschedule: true,
  });
  assert.equal(buildVM({ manifest: FULL }).spec.placement, undefined, 'none unless asked');
});
