import { API_VERSION } from './v1alpha1/group.js';
import { fromPlain } from './scheme.js';

const ref = (name: string) => ({ type: 'Docker', ref: `registry.example/${name}:latest` });
const source = { id: `sha256:${'0'.repeat(64)}`, size: '1MB', repoDigests: [] };

/**
 * A VM and a kernel as a supervisor reads them, with the fields a started VM has. The first
 * decode of each kind compiles its schema's code (zod builds an object's parser when it is first
 * used): worth ten milliseconds and more, which a VM's start would otherwise spend after its
 * supervisor was told to go.
 */
const SAMPLES = [
  {
    apiVersion: API_VERSION,
    kind: 'VM',
    metadata: { name: 'warm-up', uid: '0000000000000000', created: '2000-01-01T00:00:00Z' },
    spec: {
      image: { ociClaim: ref('image') },
      kernel: { ociClaim: ref('kernel'), cmdLine: 'console=ttyS0' },
      network: { mode: 'docker-bridge', ports: [{ hostPort: 30000, vmPort: 80 }] },
    },
    status: {
      state: 'Running',
      ipAddresses: ['192.0.2.2'],
      image: source,
      kernel: source,
      startTime: '2000-01-01T00:00:00Z',
      runtime: { vmm: 'qemu', spawnPid: 1, pid: 2 },
      network: { mode: 'docker-bridge', netns: 'ignite-0000000000000000' },
      desiredState: 'Running',
    },
  },
  {
    apiVersion: API_VERSION,
    kind: 'Kernel',
    metadata: { name: 'warm-up', uid: '0000000000000001', created: '2000-01-01T00:00:00Z' },
    spec: { ociClaim: ref('kernel') },
    status: { ociSource: source },
  },
];

/** Decodes the samples once, so the process's first real decode is no slower than the next. */
export function warmUpDecoding(): void {
  for (const sample of SAMPLES) fromPlain(structuredClone(sample));
}
