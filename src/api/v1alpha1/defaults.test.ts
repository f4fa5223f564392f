import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Size } from '../meta/size.js';
import {
  IGNITE_V04_DEFAULTS,
  setImageDefaults,
  setKernelDefaults,
  setVMDefaults,
  setVMSpecDefaults,
  setVMStatusDefaults,
} from './defaults.js';
import type { VMSpec } from './types.js';

const IMG = 'docker.io/library/busybox:latest';
const KERNEL = 'docker.io/weaveworks/ignite-kernel:4.19.47';

test('IGNITE_V04_DEFAULTS are Weave Ignite v0.4.0 defaults', () => {
  assert.equal(IGNITE_V04_DEFAULTS.cpus, 1);
  assert.equal(IGNITE_V04_DEFAULTS.memory.toString(), '512MB');
  assert.equal(IGNITE_V04_DEFAULTS.diskSize.toString(), '4GB');
  assert.equal(IGNITE_V04_DEFAULTS.kernelImage, KERNEL);
  assert.equal(IGNITE_V04_DEFAULTS.kernelCmdLine, 'console=ttyS0 reboot=k panic=1 pci=off ip=dhcp');
  assert.equal(IGNITE_V04_DEFAULTS.networkMode, 'docker-bridge');
});

test('setVMSpecDefaults fills only what is missing', () => {
  const base: VMSpec = { image: { ociClaim: { ref: IMG } } };
  const cases: { name: string; spec: VMSpec; want: Record<string, unknown> }[] = [
    {
      name: 'empty spec gets every default',
      spec: base,
      want: {
        image: { ociClaim: { type: 'Docker', ref: IMG } },
        kernel: {
          ociClaim: { type: 'Docker', ref: KERNEL },
          cmdLine: 'console=ttyS0 reboot=k panic=1 pci=off ip=dhcp',
        },
        cpus: 1,
        memory: '512MB',
        diskSize: '4GB',
        network: { mode: 'docker-bridge' },
      },
    },
    {
      name: 'given values are kept',
      spec: {
        ...base,
        cpus: 4,
        memory: Size.parse('1GB'),
        diskSize: Size.parse('8GB'),
        kernel: { ociClaim: { ref: 'docker.io/x/k:1' }, cmdLine: 'console=hvc0' },
        network: { mode: 'cni', ports: [{ hostPort: 1, vmPort: 2 }] },
        ssh: true,
      },
      want: {
        image: { ociClaim: { type: 'Docker', ref: IMG } },
        kernel: { ociClaim: { type: 'Docker', ref: 'docker.io/x/k:1' }, cmdLine: 'console=hvc0' },
        cpus: 4,
        memory: '1GB',
        diskSize: '8GB',
        network: { mode: 'cni', ports: [{ hostPort: 1, vmPort: 2 }] },
        ssh: true,
      },
    },
    {
      name: 'a kernel without cmdLine gets the default cmdLine',
      spec: { ...base, kernel: { ociClaim: { ref: 'docker.io/x/k:1' } } },
      want: {
        image: { ociClaim: { type: 'Docker', ref: IMG } },
        kernel: {
          ociClaim: { type: 'Docker', ref: 'docker.io/x/k:1' },
          cmdLine: IGNITE_V04_DEFAULTS.kernelCmdLine,
        },
        cpus: 1,
        memory: '512MB',
        diskSize: '4GB',
        network: { mode: 'docker-bridge' },
      },
    },
    {
      name: 'ports without a mode get the default mode',
      spec: { ...base, network: { ports: [{ hostPort: 8080, vmPort: 80 }] } },
      want: {
        image: { ociClaim: { type: 'Docker', ref: IMG } },
        kernel: {
          ociClaim: { type: 'Docker', ref: KERNEL },
          cmdLine: IGNITE_V04_DEFAULTS.kernelCmdLine,
        },
        cpus: 1,
        memory: '512MB',
        diskSize: '4GB',
        network: { ports: [{ hostPort: 8080, vmPort: 80 }], mode: 'docker-bridge' },
      },
    },
  ];
  for (const c of cases) {
    assert.deepEqual(JSON.parse(JSON.stringify(setVMSpecDefaults(c.spec))), c.want, c.name);
  }
});

test('setVMSpecDefaults takes host defaults', () => {
  const spec = setVMSpecDefaults(
    { image: { ociClaim: { ref: IMG } } },
    { ...IGNITE_V04_DEFAULTS, kernelImage: '127.0.0.1:5000/ignite-kernel:6.1', cpus: 2 },
  );
  assert.equal(spec.kernel.ociClaim.ref, '127.0.0.1:5000/ignite-kernel:6.1');
  assert.equal(spec.cpus, 2);
});

test('setVMStatusDefaults defaults the state to Created and keeps a given state', () => {
  const cases: [Parameters<typeof setVMStatusDefaults>[0], string][] = [
    [undefined, 'Created'],
    [{}, 'Created'],
    [{ state: 'Running' }, 'Running'],
    [{ state: 'Stopped', ipAddresses: ['10.61.0.2'] }, 'Stopped'],
  ];
  for (const [input, want] of cases) assert.equal(setVMStatusDefaults(input).state, want);
});

test('setVMDefaults defaults spec and status and keeps metadata', () => {
  const vm = setVMDefaults({
    apiVersion: 'ignite.weave.works/v1alpha1',
    kind: 'VM',
    metadata: { name: 'a', labels: { x: 'y' } },
    spec: { image: { ociClaim: { ref: IMG } } },
  });
  assert.deepEqual(vm.metadata, { name: 'a', labels: { x: 'y' } });
  assert.equal(vm.status.state, 'Created');
  assert.equal(vm.spec.cpus, 1);
});

test('setImageDefaults and setKernelDefaults set the claim type and an empty status', () => {
  const cases = [
    { status: undefined, type: undefined, wantType: 'Docker' },
    { status: { ociSource: { id: 'sha256:x' } }, type: 'Docker' as const, wantType: 'Docker' },
  ];
  for (const c of cases) {
    const meta = { name: IMG };
    const spec = { ociClaim: c.type === undefined ? { ref: IMG } : { type: c.type, ref: IMG } };
    const img = setImageDefaults({
      apiVersion: 'ignite.weave.works/v1alpha1',
      kind: 'Image',
      metadata: meta,
      spec,
      ...(c.status ? { status: c.status } : {}),
    });
    const k = setKernelDefaults({
      apiVersion: 'ignite.weave.works/v1alpha1',
      kind: 'Kernel',
      metadata: meta,
      spec,
      ...(c.status ? { status: c.status } : {}),
    });
    assert.equal(img.spec.ociClaim.type, c.wantType);
    assert.equal(k.spec.ociClaim.type, c.wantType);
    assert.deepEqual(img.status, c.status ?? {});
    assert.deepEqual(k.status, c.status ?? {});
  }
});
